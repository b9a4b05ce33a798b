"""SQL for channels and their permission overwrites."""

from __future__ import annotations

import asyncpg

from harmoniq_common.db import record_or_none, record_to, records_to

from .rows import ChannelRow, OverwriteRow

__all__ = [
    "count",
    "delete",
    "delete_overwrite",
    "get",
    "insert",
    "list_for_server",
    "list_for_servers",
    "overwrites_for",
    "set_overwrite",
    "set_position",
    "set_voice",
    "update",
]

_COLUMNS = "id, server_id, kind, name, topic, position, parent_id, user_limit, bitrate"


async def insert(
    conn: asyncpg.Connection,
    channel_id: int,
    server_id: int,
    kind: str,
    name: str,
    topic: str | None,
    position: int,
    parent_id: int | None,
) -> ChannelRow:
    record = await conn.fetchrow(
        f"INSERT INTO channels (id, server_id, kind, name, topic, position, parent_id)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
        channel_id,
        server_id,
        kind,
        name,
        topic,
        position,
        parent_id,
    )
    return record_to(ChannelRow, record)


async def get(conn: asyncpg.Connection, channel_id: int) -> ChannelRow | None:
    return record_or_none(
        ChannelRow,
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM channels WHERE id = $1", channel_id),
    )


async def list_for_server(conn: asyncpg.Connection, server_id: int) -> list[ChannelRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM channels WHERE server_id = $1 ORDER BY position, id", server_id
    )
    return records_to(ChannelRow, records)


async def list_for_servers(conn: asyncpg.Connection, server_ids: list[int]) -> list[ChannelRow]:
    """Many servers' channels in one query (READY), each server's in its listing order."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM channels WHERE server_id = ANY($1::bigint[])"
        " ORDER BY server_id, position, id",
        server_ids,
    )
    return records_to(ChannelRow, records)


async def count(conn: asyncpg.Connection, server_id: int) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM channels WHERE server_id = $1", server_id
    )
    return value


async def update(
    conn: asyncpg.Connection,
    channel_id: int,
    *,
    name: str | None,
    topic: str | None,
    clear_topic: bool,
    parent_id: int | None,
    clear_parent: bool,
) -> ChannelRow:
    record = await conn.fetchrow(
        "UPDATE channels SET name = coalesce($2, name),"
        " topic = CASE WHEN $4 THEN NULL ELSE coalesce($3, topic) END,"
        " parent_id = CASE WHEN $6 THEN NULL ELSE coalesce($5, parent_id) END"
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        channel_id,
        name,
        topic,
        clear_topic,
        parent_id,
        clear_parent,
    )
    return record_to(ChannelRow, record)


async def set_voice(
    conn: asyncpg.Connection, channel_id: int, *, user_limit: int | None, bitrate: int | None
) -> None:
    """A voice channel's user limit and bitrate (``None``: unchanged)."""
    await conn.execute(
        "UPDATE channels SET user_limit = coalesce($2, user_limit), bitrate = coalesce($3, bitrate)"
        " WHERE id = $1",
        channel_id,
        user_limit,
        bitrate,
    )


async def set_position(conn: asyncpg.Connection, channel_id: int, position: int) -> None:
    await conn.execute("UPDATE channels SET position = $2 WHERE id = $1", channel_id, position)


async def delete(conn: asyncpg.Connection, channel_id: int) -> None:
    await conn.execute("DELETE FROM channels WHERE id = $1", channel_id)


async def overwrites_for(conn: asyncpg.Connection, channel_ids: list[int]) -> list[OverwriteRow]:
    records = await conn.fetch(
        "SELECT channel_id, target_kind, target_id, allow_bits, deny_bits FROM overwrites"
        " WHERE channel_id = ANY($1::bigint[]) ORDER BY channel_id, target_kind, target_id",
        channel_ids,
    )
    return records_to(OverwriteRow, records)


async def set_overwrite(
    conn: asyncpg.Connection,
    channel_id: int,
    target_kind: str,
    target_id: int,
    allow: int,
    deny: int,
) -> None:
    await conn.execute(
        "INSERT INTO overwrites (channel_id, target_kind, target_id, allow_bits, deny_bits)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, target_kind, target_id)"
        " DO UPDATE SET allow_bits = excluded.allow_bits, deny_bits = excluded.deny_bits",
        channel_id,
        target_kind,
        target_id,
        allow,
        deny,
    )


async def delete_overwrite(
    conn: asyncpg.Connection, channel_id: int, target_kind: str, target_id: int
) -> bool:
    result: str = await conn.execute(
        "DELETE FROM overwrites WHERE channel_id = $1 AND target_kind = $2 AND target_id = $3",
        channel_id,
        target_kind,
        target_id,
    )
    return result != "DELETE 0"
