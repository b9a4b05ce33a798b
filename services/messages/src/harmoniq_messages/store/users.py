"""SQL for the users projection (authors as auth last described them)."""

from __future__ import annotations

import asyncpg

from harmoniq_common.events import UserSummary

__all__ = ["known_ids", "mark_deleted", "upsert"]


async def upsert(conn: asyncpg.Connection, user: UserSummary) -> None:
    # A deleted account stays deleted whatever arrives after it.
    await conn.execute(
        "INSERT INTO users (id, username, avatar_url) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
        " avatar_url = excluded.avatar_url, updated_at = now() WHERE NOT users.deleted",
        user.id,
        user.username,
        user.avatar_url,
    )


async def mark_deleted(conn: asyncpg.Connection, user_id: int) -> None:
    await conn.execute(
        "INSERT INTO users (id, username, avatar_url, deleted) VALUES ($1, 'Deleted User', NULL, true)"
        " ON CONFLICT (id) DO UPDATE SET username = 'Deleted User', avatar_url = NULL,"
        " deleted = true, updated_at = now()",
        user_id,
    )


async def known_ids(conn: asyncpg.Connection, user_ids: list[int]) -> set[int]:
    records = await conn.fetch("SELECT id FROM users WHERE id = ANY($1)", user_ids)
    return {r["id"] for r in records}
