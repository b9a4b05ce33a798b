"""SQL for relationships (one row per direction: see migration 0003) and DM privacy."""

from __future__ import annotations

import asyncpg

from harmoniq_common.db import record_or_none, records_to
from harmoniq_common.ids import Snowflake

from .rows import RelationshipRow

__all__ = [
    "allow_dms",
    "allows_dms_from_server_mate",
    "blocked_ids",
    "delete",
    "delete_all_of",
    "find_user",
    "get",
    "kind_between",
    "list_for",
    "put",
    "set_allow_dms",
]

_SELECT = (
    "SELECT r.user_id, r.other_id, r.kind, r.since,"
    " coalesce(u.username, 'unknown-' || r.other_id::text) AS username, u.avatar_url"
    " FROM relationships r LEFT JOIN users u ON u.id = r.other_id"
)


async def get(conn: asyncpg.Connection, user_id: int, other_id: int) -> RelationshipRow | None:
    return record_or_none(
        RelationshipRow,
        await conn.fetchrow(
            f"{_SELECT} WHERE r.user_id = $1 AND r.other_id = $2", user_id, other_id
        ),
    )


async def kind_between(conn: asyncpg.Connection, user_id: int, other_id: int) -> str | None:
    kind: str | None = await conn.fetchval(
        "SELECT kind FROM relationships WHERE user_id = $1 AND other_id = $2", user_id, other_id
    )
    return kind


async def list_for(conn: asyncpg.Connection, user_id: int) -> list[RelationshipRow]:
    return records_to(
        RelationshipRow,
        await conn.fetch(f"{_SELECT} WHERE r.user_id = $1 ORDER BY r.since, r.other_id", user_id),
    )


async def blocked_ids(conn: asyncpg.Connection, user_id: int) -> list[int]:
    rows = await conn.fetch(
        "SELECT other_id FROM relationships WHERE user_id = $1 AND kind = 'blocked'", user_id
    )
    return [int(r["other_id"]) for r in rows]


async def put(conn: asyncpg.Connection, user_id: int, other_id: int, kind: str) -> None:
    await conn.execute(
        "INSERT INTO relationships (user_id, other_id, kind) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id, other_id) DO UPDATE SET kind = excluded.kind, since = now()"
        " WHERE relationships.kind <> excluded.kind",
        user_id,
        other_id,
        kind,
    )


async def delete(conn: asyncpg.Connection, user_id: int, other_id: int) -> str | None:
    """Remove the entry; the kind it had, or None if there was none."""
    kind: str | None = await conn.fetchval(
        "DELETE FROM relationships WHERE user_id = $1 AND other_id = $2 RETURNING kind",
        user_id,
        other_id,
    )
    return kind


async def delete_all_of(conn: asyncpg.Connection, user_id: int) -> list[Snowflake]:
    """Every entry of and about a user (their account is gone); who had one about them."""
    await conn.execute("DELETE FROM relationships WHERE user_id = $1", user_id)
    rows = await conn.fetch(
        "DELETE FROM relationships WHERE other_id = $1 RETURNING user_id", user_id
    )
    return sorted(Snowflake(r["user_id"]) for r in rows)


async def find_user(conn: asyncpg.Connection, username: str) -> Snowflake | None:
    """A user by name, as the users projection knows them (case-insensitive)."""
    found = await conn.fetchval(
        "SELECT id FROM users WHERE lower(username) = lower($1) AND NOT deleted"
        " ORDER BY id LIMIT 1",
        username,
    )
    return None if found is None else Snowflake(found)


async def allows_dms_from_server_mate(
    conn: asyncpg.Connection, sender_id: int, recipient_id: int
) -> bool:
    """Do they share a server in which the recipient lets members DM them?"""
    shared = await conn.fetchval(
        "SELECT true FROM members mine JOIN members theirs ON theirs.server_id = mine.server_id"
        " WHERE mine.user_id = $1 AND theirs.user_id = $2 AND theirs.allow_dms LIMIT 1",
        sender_id,
        recipient_id,
    )
    return bool(shared)


async def allow_dms(conn: asyncpg.Connection, server_id: int, user_id: int) -> bool | None:
    """The member's setting; None if they are not a member."""
    allowed: bool | None = await conn.fetchval(
        "SELECT allow_dms FROM members WHERE server_id = $1 AND user_id = $2", server_id, user_id
    )
    return allowed


async def set_allow_dms(
    conn: asyncpg.Connection, server_id: int, user_id: int, allow: bool
) -> bool:
    """False if they are not a member."""
    updated = await conn.fetchval(
        "UPDATE members SET allow_dms = $3 WHERE server_id = $1 AND user_id = $2 RETURNING true",
        server_id,
        user_id,
        allow,
    )
    return bool(updated)
