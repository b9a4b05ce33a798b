"""SQL for the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

__all__ = ["insert", "list_page", "purge"]


async def insert(
    conn: asyncpg.Connection,
    entry_id: int,
    server_id: int,
    actor_id: int,
    action: str,
    target_id: int | None,
    reason: str | None,
    changes: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (id, server_id, actor_id, action, target_id, reason, changes)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        entry_id,
        server_id,
        actor_id,
        action,
        target_id,
        reason,
        changes,
    )


async def list_page(
    conn: asyncpg.Connection,
    server_id: int,
    before: int | None,
    limit: int,
    action: str | None,
    actor_id: int | None,
) -> list[asyncpg.Record]:
    records: list[asyncpg.Record] = await conn.fetch(
        "SELECT id, actor_id, action, target_id, reason, changes, created_at FROM audit_log"
        " WHERE server_id = $1 AND ($2::bigint IS NULL OR id < $2)"
        " AND ($4::text IS NULL OR action = $4) AND ($5::bigint IS NULL OR actor_id = $5)"
        " ORDER BY id DESC LIMIT $3",
        server_id,
        before,
        limit,
        action,
        actor_id,
    )
    return records


async def purge(conn: asyncpg.Connection, older_than: datetime) -> int:
    result: str = await conn.execute("DELETE FROM audit_log WHERE created_at < $1", older_than)
    return int(result.split()[-1])
