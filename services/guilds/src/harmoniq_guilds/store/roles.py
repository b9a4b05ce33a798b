"""SQL for roles."""

from __future__ import annotations

import asyncpg

from harmoniq_common.db import record_or_none, record_to, records_to

from .rows import RoleRow

__all__ = ["count", "delete", "get", "insert", "list_for_server", "list_for_servers", "update"]

_COLUMNS = "id, server_id, name, permissions, position, color"


async def insert(
    conn: asyncpg.Connection,
    role_id: int,
    server_id: int,
    name: str,
    permissions: int,
    position: int,
    color: int = 0,
) -> RoleRow:
    record = await conn.fetchrow(
        f"INSERT INTO roles (id, server_id, name, permissions, position, color)"
        f" VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}",
        role_id,
        server_id,
        name,
        permissions,
        position,
        color,
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
