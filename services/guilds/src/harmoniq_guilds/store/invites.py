"""SQL for invites."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from .rows import InviteRow, to_row, to_rows

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
    row = to_row(record, InviteRow)
    assert row is not None
    return row


async def get(conn: asyncpg.Connection, code: str) -> InviteRow | None:
    return to_row(
        await conn.fetchrow(f"SELECT {_COLUMNS} FROM invites WHERE code = $1", code), InviteRow
    )


async def consume(conn: asyncpg.Connection, code: str) -> InviteRow | None:
    """Take one use of a live invite atomically; None if it is used up, expired or revoked."""
    return to_row(
        await conn.fetchrow(
            "UPDATE invites SET uses = uses + 1 WHERE code = $1 AND revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > now())"
            f" AND (max_uses IS NULL OR uses < max_uses) RETURNING {_COLUMNS}",
            code,
        ),
        InviteRow,
    )


async def list_for_server(conn: asyncpg.Connection, server_id: int) -> list[InviteRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM invites WHERE server_id = $1 AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at DESC",
        server_id,
    )
    return to_rows(records, InviteRow)


async def revoke(conn: asyncpg.Connection, code: str) -> None:
    await conn.execute("UPDATE invites SET revoked_at = now() WHERE code = $1", code)
