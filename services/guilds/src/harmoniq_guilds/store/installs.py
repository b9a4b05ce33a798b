"""SQL for installed bots beyond roles and members (store/roles.py holds the managed roles)."""

from __future__ import annotations

import asyncpg

__all__ = ["remember_user"]


async def remember_user(conn: asyncpg.Connection, user_id: int, username: str) -> None:
    """A bot made a moment ago may be ahead of the ``user.created`` feed: its name is known
    from the installation (the feed, when it comes, writes the same)."""
    await conn.execute(
        "INSERT INTO users (id, username) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user_id,
        username,
    )
