"""The audit log: who did what to whom, why, and when, in the same transaction as the act."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..store import audit
from .access import load_access

__all__ = ["purge_expired", "read", "record"]


async def record(
    tx: UnitOfWork,
    server_id: int,
    actor_id: int,
    action: str,
    *,
    target_id: int | None = None,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    await audit.insert(
        tx.conn, tx.platform.new_id(), server_id, actor_id, action, target_id, reason, changes or {}
    )


async def purge_expired(pool: asyncpg.Pool, retention_days: int) -> int:
    """Remove entries older than the retention period; how many went."""
    async with pool.acquire() as conn:
        return await audit.purge(conn, datetime.now(UTC) - timedelta(days=retention_days))


async def read(
    platform: Platform,
    server_id: int,
    user_id: int,
    *,
    before: int | None,
    limit: int,
    action: str | None,
    actor_id: int | None,
) -> list[dict[str, Any]]:
    """Newest first; VIEW_AUDIT_LOG."""
    async with platform.pool.acquire() as conn:
        access = await load_access(conn, server_id, Snowflake(user_id))
        access.require(Permission.VIEW_AUDIT_LOG)
        rows = await audit.list_page(conn, server_id, before, limit, action, actor_id)
    return [
        {
            "id": str(r["id"]),
            "actor_id": str(r["actor_id"]),
            "action": r["action"],
            "target_id": None if r["target_id"] is None else str(r["target_id"]),
            "reason": r["reason"],
            "changes": r["changes"],
            "created_at": r["created_at"],
        }
        for r in rows
    ]
