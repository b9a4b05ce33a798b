"""SQL for servers."""

from __future__ import annotations

import asyncpg

from harmoniq_common.db import record_or_none, record_to, records_to
from harmoniq_common.ids import Snowflake

from .rows import ServerRow

__all__ = [
    "count_memberships",
    "delete",
    "get",
    "insert",
    "list_for_user",
    "set_owner",
    "update",
]

_COLUMNS = "id, name, description, icon_id, owner_id, created_at"


async def insert(
    conn: asyncpg.Connection,
    server_id: int,
    name: str,
    description: str | None,
    icon_id: str | None,
    owner_id: int,
) -> ServerRow:
    record = await conn.fetchrow(
        f"INSERT INTO servers (id, name, description, icon_id, owner_id)"
        f" VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
        server_id,
        name,
        description,
        icon_id,
        owner_id,
    )
    return record_to(ServerRow, record)


async def get(conn: asyncpg.Connection, server_id: int, *, lock: bool = False) -> ServerRow | None:
    suffix = " FOR UPDATE" if lock else ""
    return record_or_none(
        ServerRow,
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM servers WHERE id = $1{suffix}", server_id),
    )


async def list_for_user(
    conn: asyncpg.Connection, user_id: int, after: int, limit: int
) -> list[ServerRow]:
    records = await conn.fetch(
        f"SELECT {', '.join('s.' + c.strip() for c in _COLUMNS.split(','))}"
        " FROM servers s JOIN members m ON m.server_id = s.id"
        " WHERE m.user_id = $1 AND s.id > $2 ORDER BY s.id LIMIT $3",
        user_id,
        after,
        limit,
    )
    return records_to(ServerRow, records)


async def count_memberships(conn: asyncpg.Connection, user_id: int) -> int:
    count: int = await conn.fetchval("SELECT count(*) FROM members WHERE user_id = $1", user_id)
    return count


async def update(
    conn: asyncpg.Connection,
    server_id: int,
    *,
    name: str | None,
    description: str | None,
    clear_description: bool,
    icon_id: str | None,
    clear_icon: bool,
) -> ServerRow:
    record = await conn.fetchrow(
        "UPDATE servers SET name = coalesce($2, name),"
        " description = CASE WHEN $4 THEN NULL ELSE coalesce($3, description) END,"
        " icon_id = CASE WHEN $6 THEN NULL ELSE coalesce($5, icon_id) END"
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        server_id,
        name,
        description,
        clear_description,
        icon_id,
        clear_icon,
    )
    return record_to(ServerRow, record)


async def set_owner(conn: asyncpg.Connection, server_id: int, owner_id: int) -> ServerRow:
    record = await conn.fetchrow(
        f"UPDATE servers SET owner_id = $2 WHERE id = $1 RETURNING {_COLUMNS}",
        server_id,
        owner_id,
    )
    return record_to(ServerRow, record)


async def delete(conn: asyncpg.Connection, server_id: int) -> None:
    await conn.execute("DELETE FROM servers WHERE id = $1", server_id)


async def owned_by(conn: asyncpg.Connection, user_id: int) -> list[Snowflake]:
    rows = await conn.fetch("SELECT id FROM servers WHERE owner_id = $1", user_id)
    return [Snowflake(r["id"]) for r in rows]
