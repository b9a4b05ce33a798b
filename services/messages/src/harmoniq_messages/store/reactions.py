"""SQL for reactions: one row per (message, emoji, user)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from harmoniq_common.db import records_to
from harmoniq_common.ids import Snowflake

from .rows import ReactionCountRow

__all__ = ["add", "counts", "distinct_emoji", "has_emoji", "remove", "users"]


async def add(conn: asyncpg.Connection, message_id: int, emoji: str, user_id: int) -> bool:
    status = await conn.execute(
        "INSERT INTO reactions (message_id, emoji, user_id) VALUES ($1, $2, $3)"
        " ON CONFLICT DO NOTHING",
        message_id,
        emoji,
        user_id,
    )
    return bool(status != "INSERT 0 0")


async def remove(conn: asyncpg.Connection, message_id: int, emoji: str, user_id: int) -> bool:
    status = await conn.execute(
        "DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3",
        message_id,
        emoji,
        user_id,
    )
    return bool(status != "DELETE 0")


async def has_emoji(conn: asyncpg.Connection, message_id: int, emoji: str) -> bool:
    found = await conn.fetchval(
        "SELECT 1 FROM reactions WHERE message_id = $1 AND emoji = $2 LIMIT 1", message_id, emoji
    )
    return found is not None


async def distinct_emoji(conn: asyncpg.Connection, message_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1", message_id
    )
    return count


async def counts(
    conn: asyncpg.Connection, message_ids: Sequence[int], viewer_id: int
) -> list[ReactionCountRow]:
    records = await conn.fetch(
        "SELECT message_id, emoji, count(*) AS count, bool_or(user_id = $2) AS me"
        " FROM reactions WHERE message_id = ANY($1)"
        " GROUP BY message_id, emoji ORDER BY message_id, min(created_at), emoji",
        message_ids,
        viewer_id,
    )
    return records_to(ReactionCountRow, records)


async def users(
    conn: asyncpg.Connection, message_id: int, emoji: str, after: int, limit: int
) -> list[tuple[Snowflake, str, str | None]]:
    records = await conn.fetch(
        "SELECT r.user_id, coalesce(u.username, 'unknown') AS username, u.avatar_url"
        " FROM reactions r LEFT JOIN users u ON u.id = r.user_id"
        " WHERE r.message_id = $1 AND r.emoji = $2 AND r.user_id > $3"
        " ORDER BY r.user_id LIMIT $4",
        message_id,
        emoji,
        after,
        limit,
    )
    return [(Snowflake(r["user_id"]), r["username"], r["avatar_url"]) for r in records]
