"""SQL for invites."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from harmoniq_common.db import record_or_none, record_to, records_to

from .rows import InviteRow

__all__ = ["consume", "get", "insert", "list_for_server", "revoke"]

_COLUMNS = (
    "code, server_id, channel_id, creator_id, max_uses, uses, expires_at, temporary,"
    " created_at, revoked_at"
)


async def insert(
    conn: asyncpg.Connection,
    code: str,
    server_id: int,
    channel_id: int | None,
    creator_id: int,
    max_uses: int | None,
    expires_at: datetime | None,
    temporary: bool,
) -> InviteRow:
    record = await conn.fetchrow(
        f"INSERT INTO invites (code, server_id, channel_id, creator_id, max_uses, expires_at,"
        f" temporary) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
        code,
        server_id,
        channel_id,
        creator_id,
        max_uses,
        expires_at,
        temporary,
    )
    return record_to(InviteRow, record)


async def get(conn: asyncpg.Connection, code: str) -> InviteRow | None:
    return record_or_none(
        InviteRow, await conn.fetchrow(f"SELECT {_COLUMNS} FROM invites WHERE code = $1", code)
    )


async def consume(conn: asyncpg.Connection, code: str) -> InviteRow | None:
    """Take one use of a live invite atomically; None if it is used up, expired or revoked."""
    return record_or_none(
        InviteRow,
        await conn.fetchrow(
            "UPDATE invites SET uses = uses + 1 WHERE code = $1 AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now())"
            f" AND (max_uses IS NULL OR uses < max_uses) RETURNING {_COLUMNS}",
            code,
        ),
    )


async def list_for_server(conn: asyncpg.Connection, server_id: int) -> list[InviteRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM invites WHERE server_id = $1 AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC",
        server_id,
    )
    return records_to(InviteRow, records)


async def revoke(conn: asyncpg.Connection, code: str) -> None:
    await conn.execute("UPDATE invites SET revoked_at = now() WHERE code = $1", code)
