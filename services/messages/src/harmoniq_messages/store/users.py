"""The users projection: authors as auth last described them."""

from __future__ import annotations

import asyncpg

from harmoniq_common.events import UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.projections import UsersProjection

__all__ = ["USERS", "known_ids", "summary"]

# Kept by harmoniq_common.projections.users_projection_consumer (events/users.py), completed
# on demand by domain/authors.py.
USERS = UsersProjection(deleted_username=lambda _: "Deleted User", touched_at="updated_at")


async def known_ids(conn: asyncpg.Connection, user_ids: list[int]) -> set[int]:
    records = await conn.fetch("SELECT id FROM users WHERE id = ANY($1)", user_ids)
    return {r["id"] for r in records}


async def summary(conn: asyncpg.Connection, user_id: int) -> UserSummary | None:
    record = await conn.fetchrow("SELECT username, avatar_url FROM users WHERE id = $1", user_id)
    if record is None:
        return None
    return UserSummary(
        id=Snowflake(user_id), username=record["username"], avatar_url=record["avatar_url"]
    )
