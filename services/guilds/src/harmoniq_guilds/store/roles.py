"""SQL for roles."""

from __future__ import annotations

import asyncpg

from harmoniq_common.db import record_or_none, record_to, records_to

from .rows import RoleRow

__all__ = [
    "count",
    "delete",
    "delete_managed",
    "get",
    "insert",
    "list_for_server",
    "list_for_servers",
    "managed",
    "managed_in",
    "update",
]

_COLUMNS = "id, server_id, name, permissions, position, color, managed_by"


async def insert(
    conn: asyncpg.Connection,
    role_id: int,
    server_id: int,
    name: str,
    permissions: int,
    position: int,
    color: int = 0,
    managed_by: int | None = None,
) -> RoleRow:
    record = await conn.fetchrow(
        f"INSERT INTO roles (id, server_id, name, permissions, position, color, managed_by)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
        role_id,
        server_id,
        name,
        permissions,
        position,
        color,
        managed_by,
    )
    return record_to(RoleRow, record)


async def list_for_server(conn: asyncpg.Connection, server_id: int) -> list[RoleRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM roles WHERE server_id = $1 ORDER BY position DESC, id",
        server_id,
    )
    return records_to(RoleRow, records)


async def list_for_servers(conn: asyncpg.Connection, server_ids: list[int]) -> list[RoleRow]:
    """Many servers' roles in one query (READY), each server's in its listing order."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM roles WHERE server_id = ANY($1::bigint[])"
        " ORDER BY server_id, position DESC, id",
        server_ids,
    )
    return records_to(RoleRow, records)


async def get(conn: asyncpg.Connection, server_id: int, role_id: int) -> RoleRow | None:
    return record_or_none(
        RoleRow,
        await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM roles WHERE server_id = $1 AND id = $2", server_id, role_id
        ),
    )


async def count(conn: asyncpg.Connection, server_id: int) -> int:
    value: int = await conn.fetchval("SELECT count(*) FROM roles WHERE server_id = $1", server_id)
    return value


async def update(
    conn: asyncpg.Connection,
    role_id: int,
    *,
    name: str | None,
    permissions: int | None,
    position: int | None,
    color: int | None,
) -> RoleRow:
    record = await conn.fetchrow(
        "UPDATE roles SET name = coalesce($2, name), permissions = coalesce($3, permissions),"
        " position = coalesce($4, position), color = coalesce($5, color)"
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        role_id,
        name,
        permissions,
        position,
        color,
    )
    return record_to(RoleRow, record)


async def delete(conn: asyncpg.Connection, role_id: int) -> None:
    await conn.execute("DELETE FROM roles WHERE id = $1", role_id)


async def managed(conn: asyncpg.Connection, server_id: int, bot_id: int) -> RoleRow | None:
    """The managed role of a bot installed in the server."""
    return record_or_none(
        RoleRow,
        await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM roles WHERE server_id = $1 AND managed_by = $2",
            server_id,
            bot_id,
        ),
    )


async def managed_in(conn: asyncpg.Connection, server_id: int) -> list[RoleRow]:
    """Every installed bot's managed role in the server, by bot id."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM roles WHERE server_id = $1 AND managed_by IS NOT NULL"
        " ORDER BY managed_by",
        server_id,
    )
    return records_to(RoleRow, records)


async def delete_managed(conn: asyncpg.Connection, server_id: int, bot_id: int) -> int | None:
    """Remove a bot's managed role; its id, or None if it had none."""
    value = await conn.fetchval(
        "DELETE FROM roles WHERE server_id = $1 AND managed_by = $2 RETURNING id",
        server_id,
        bot_id,
    )
    return None if value is None else int(value)
