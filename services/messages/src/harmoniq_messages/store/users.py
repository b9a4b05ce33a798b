"""The users projection: authors as auth last described them."""

from __future__ import annotations

import asyncpg

from harmoniq_common.projections import UsersProjection

__all__ = ["USERS", "known_ids"]

# Kept by harmoniq_common.projections.users_projection_consumer (events/users.py), completed
# on demand by domain/authors.py.
USERS = UsersProjection(deleted_username=lambda _: "Deleted User", touched_at="updated_at")


async def known_ids(conn: asyncpg.Connection, user_ids: list[int]) -> set[int]:
    records = await conn.fetch("SELECT id FROM users WHERE id = ANY($1)", user_ids)
    return {r["id"] for r in records}
