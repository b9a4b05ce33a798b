"""SQL for members, their roles, and bans."""

from __future__ import annotations

import asyncpg

from harmoniq_common.db import record_or_none, records_to
from harmoniq_common.ids import Snowflake

from .rows import MemberRow

__all__ = [
    "add",
    "add_role",
    "ban",
    "count",
    "count_in_turn",
    "counts",
    "get",
    "get_many",
    "is_banned",
    "list_bans",
    "list_page",
    "longest_standing",
    "memberships",
    "remove",
    "remove_role",
    "server_ids",
    "set_nickname",
    "unban",
]

_SELECT = (
    "SELECT m.server_id, m.user_id, m.nickname, m.joined_at,"
    " coalesce(u.username, 'unknown-' || m.user_id::text) AS username, u.avatar_url,"
    " coalesce(array_agg(mr.role_id) FILTER (WHERE mr.role_id IS NOT NULL), '{}') AS roles"
    " FROM members m LEFT JOIN users u ON u.id = m.user_id"
    " LEFT JOIN member_roles mr ON mr.server_id = m.server_id AND mr.user_id = m.user_id"
)
_GROUP = " GROUP BY m.server_id, m.user_id, u.username, u.avatar_url"


async def add(conn: asyncpg.Connection, server_id: int, user_id: int, *, temporary: bool) -> bool:
    """Add a member; False if they already were one."""
    inserted = await conn.fetchval(
        "INSERT INTO members (server_id, user_id, temporary) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING RETURNING true",
        server_id,
        user_id,
        temporary,
    )
    return bool(inserted)


async def get(conn: asyncpg.Connection, server_id: int, user_id: int) -> MemberRow | None:
    return record_or_none(
        MemberRow,
        await conn.fetchrow(
            f"{_SELECT} WHERE m.server_id = $1 AND m.user_id = $2{_GROUP}", server_id, user_id
        ),
    )


async def get_many(
    conn: asyncpg.Connection, server_id: int, user_ids: list[int]
) -> list[MemberRow]:
    """Those of ``user_ids`` who are members (the others are left out)."""
    records = await conn.fetch(
        f"{_SELECT} WHERE m.server_id = $1 AND m.user_id = ANY($2::bigint[]){_GROUP}",
        server_id,
        user_ids,
    )
    return records_to(MemberRow, records)


async def list_page(
    conn: asyncpg.Connection, server_id: int, after: int, limit: int
) -> list[MemberRow]:
    records = await conn.fetch(
        f"{_SELECT} WHERE m.server_id = $1 AND m.user_id > $2{_GROUP} ORDER BY m.user_id LIMIT $3",
        server_id,
        after,
        limit,
    )
    return records_to(MemberRow, records)


async def longest_standing(
    conn: asyncpg.Connection, server_id: int, excluding: int
) -> Snowflake | None:
    """The member who joined first (ties: lowest id), other than ``excluding``."""
    value = await conn.fetchval(
        "SELECT user_id FROM members WHERE server_id = $1 AND user_id <> $2"
        " ORDER BY joined_at, user_id LIMIT 1",
        server_id,
        excluding,
    )
    return None if value is None else Snowflake(value)


async def memberships(
    conn: asyncpg.Connection, user_id: int, server_ids: list[int]
) -> list[MemberRow]:
    """One user's member rows in many servers at once (READY)."""
    return records_to(
        MemberRow,
        await conn.fetch(
            f"{_SELECT} WHERE m.user_id = $1 AND m.server_id = ANY($2::bigint[]){_GROUP}",
            user_id,
            server_ids,
        ),
    )


async def counts(conn: asyncpg.Connection, server_ids: list[int]) -> dict[int, int]:
    """Many servers' member counts in one query (READY)."""
    rows = await conn.fetch(
        "SELECT server_id, count(*) AS n FROM members WHERE server_id = ANY($1::bigint[])"
        " GROUP BY server_id",
        server_ids,
    )
    return {int(r["server_id"]): int(r["n"]) for r in rows}


async def count(conn: asyncpg.Connection, server_id: int) -> int:
    value: int = await conn.fetchval("SELECT count(*) FROM members WHERE server_id = $1", server_id)
    return value


async def count_in_turn(conn: asyncpg.Connection, server_id: int) -> int:
    """The member count right after this transaction's membership change, exact in commit
    order: one server's membership changes take turns from here until they commit, so
    concurrent joins announce N+1, N+2… rather than N+1 twice."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('members'), hashtext($1))", str(server_id)
    )
    return await count(conn, server_id)


async def remove(conn: asyncpg.Connection, server_id: int, user_id: int) -> bool:
    result: str = await conn.execute(
        "DELETE FROM members WHERE server_id = $1 AND user_id = $2", server_id, user_id
    )
    return result != "DELETE 0"


async def set_nickname(
    conn: asyncpg.Connection, server_id: int, user_id: int, nickname: str | None
) -> None:
    await conn.execute(
        "UPDATE members SET nickname = $3 WHERE server_id = $1 AND user_id = $2",
        server_id,
        user_id,
        nickname,
    )


async def add_role(conn: asyncpg.Connection, server_id: int, user_id: int, role_id: int) -> None:
    await conn.execute(
        "INSERT INTO member_roles (server_id, user_id, role_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        server_id,
        user_id,
        role_id,
    )


async def remove_role(conn: asyncpg.Connection, server_id: int, user_id: int, role_id: int) -> None:
    await conn.execute(
        "DELETE FROM member_roles WHERE server_id = $1 AND user_id = $2 AND role_id = $3",
        server_id,
        user_id,
        role_id,
    )


async def server_ids(conn: asyncpg.Connection, user_id: int) -> list[Snowflake]:
    rows = await conn.fetch("SELECT server_id FROM members WHERE user_id = $1", user_id)
    return [Snowflake(r["server_id"]) for r in rows]


async def ban(
    conn: asyncpg.Connection, server_id: int, user_id: int, reason: str | None, banned_by: int
) -> None:
    await conn.execute(
        "INSERT INTO bans (server_id, user_id, reason, banned_by) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (server_id, user_id) DO UPDATE SET reason = excluded.reason",
        server_id,
        user_id,
        reason,
        banned_by,
    )


async def unban(conn: asyncpg.Connection, server_id: int, user_id: int) -> bool:
    result: str = await conn.execute(
        "DELETE FROM bans WHERE server_id = $1 AND user_id = $2", server_id, user_id
    )
    return result != "DELETE 0"


async def is_banned(conn: asyncpg.Connection, server_id: int, user_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM bans WHERE server_id = $1 AND user_id = $2", server_id, user_id
        )
    )


async def list_bans(
    conn: asyncpg.Connection, server_id: int, after: int, limit: int
) -> list[asyncpg.Record]:
    records: list[asyncpg.Record] = await conn.fetch(
        "SELECT user_id, reason, banned_by, created_at FROM bans"
        " WHERE server_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3",
        server_id,
        after,
        limit,
    )
    return records
