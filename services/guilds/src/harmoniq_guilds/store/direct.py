"""SQL for DM channels and their participants."""

from __future__ import annotations

import asyncpg

from harmoniq_common.db import record_or_none, records_to
from harmoniq_common.ids import Snowflake

from .rows import DmChannelRow, DmRecipientRow

__all__ = [
    "add_participant",
    "create",
    "for_user",
    "get",
    "get_pair",
    "pair_key",
    "participant_ids",
    "recipients",
    "remove_participant",
    "set_activity",
    "update",
]

_COLUMNS = "c.id, c.kind, c.name, c.icon_id, c.owner_id, c.last_activity_id, c.created_at"


def pair_key(a: int, b: int) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


async def create(
    conn: asyncpg.Connection,
    channel_id: int,
    kind: str,
    participants: list[int],
    *,
    owner_id: int | None = None,
    name: str | None = None,
    icon_id: str | None = None,
    pair: str | None = None,
) -> bool:
    """A new DM channel with its participants; False if a 1:1 DM of that pair exists."""
    created = await conn.fetchval(
        "INSERT INTO dm_channels (id, kind, name, icon_id, owner_id, pair_key, last_activity_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $1) ON CONFLICT (pair_key) DO NOTHING RETURNING true",
        channel_id,
        kind,
        name,
        icon_id,
        owner_id,
        pair,
    )
    if not created:
        return False
    await conn.executemany(
        "INSERT INTO dm_participants (channel_id, user_id) VALUES ($1, $2)",
        [(channel_id, user_id) for user_id in participants],
    )
    return True


async def get(conn: asyncpg.Connection, channel_id: int) -> DmChannelRow | None:
    return record_or_none(
        DmChannelRow,
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM dm_channels c WHERE c.id = $1", channel_id),
    )


async def get_pair(conn: asyncpg.Connection, pair: str) -> DmChannelRow | None:
    return record_or_none(
        DmChannelRow,
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM dm_channels c WHERE c.pair_key = $1", pair),
    )


async def for_user(conn: asyncpg.Connection, user_id: int, limit: int) -> list[DmChannelRow]:
    """The user's DM channels, newest activity first."""
    return records_to(
        DmChannelRow,
        await conn.fetch(
            f"SELECT {_COLUMNS} FROM dm_participants p JOIN dm_channels c ON c.id = p.channel_id"
            " WHERE p.user_id = $1 ORDER BY c.last_activity_id DESC LIMIT $2",
            user_id,
            limit,
        ),
    )


async def participant_ids(conn: asyncpg.Connection, channel_id: int) -> list[Snowflake]:
    rows = await conn.fetch(
        "SELECT user_id FROM dm_participants WHERE channel_id = $1 ORDER BY joined_at, user_id",
        channel_id,
    )
    return [Snowflake(r["user_id"]) for r in rows]


async def recipients(conn: asyncpg.Connection, channel_ids: list[int]) -> list[DmRecipientRow]:
    """Every participant of these channels, with their names, in the order they joined."""
    return records_to(
        DmRecipientRow,
        await conn.fetch(
            "SELECT p.channel_id, p.user_id,"
            " coalesce(u.username, 'unknown-' || p.user_id::text) AS username, u.avatar_url"
            " FROM dm_participants p LEFT JOIN users u ON u.id = p.user_id"
            " WHERE p.channel_id = ANY($1::bigint[]) ORDER BY p.joined_at, p.user_id",
            channel_ids,
        ),
    )


async def add_participant(conn: asyncpg.Connection, channel_id: int, user_id: int) -> bool:
    added = await conn.fetchval(
        "INSERT INTO dm_participants (channel_id, user_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING true",
        channel_id,
        user_id,
    )
    return bool(added)


async def remove_participant(conn: asyncpg.Connection, channel_id: int, user_id: int) -> bool:
    removed = await conn.fetchval(
        "DELETE FROM dm_participants WHERE channel_id = $1 AND user_id = $2 RETURNING true",
        channel_id,
        user_id,
    )
    return bool(removed)


async def update(
    conn: asyncpg.Connection,
    channel_id: int,
    *,
    name: str | None,
    icon_id: str | None,
    owner_id: int | None,
) -> None:
    await conn.execute(
        "UPDATE dm_channels SET name = $2, icon_id = $3, owner_id = $4 WHERE id = $1",
        channel_id,
        name,
        icon_id,
        owner_id,
    )


async def set_activity(conn: asyncpg.Connection, channel_id: int, message_id: int) -> None:
    """Only forwards: events may arrive out of order or twice."""
    await conn.execute(
        "UPDATE dm_channels SET last_activity_id = greatest(last_activity_id, $2) WHERE id = $1",
        channel_id,
        message_id,
    )
