"""SQL for webhooks."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from harmoniq_common.db import record_or_none, record_to, records_to

from .rows import WebhookRow

__all__ = [
    "count_in_channel",
    "delete",
    "delete_in_channel",
    "delete_in_server",
    "get",
    "in_channels",
    "insert",
    "set_token",
    "update",
]

COLUMNS = (
    "id, server_id, channel_id, name, avatar_url, creator_id, token_hash, github_secret, created_at"
)


async def insert(conn: asyncpg.Connection, row: WebhookRow) -> WebhookRow:
    record = await conn.fetchrow(
        "INSERT INTO webhooks (id, server_id, channel_id, name, avatar_url, creator_id,"
        f" token_hash, github_secret) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}",
        row.id,
        row.server_id,
        row.channel_id,
        row.name,
        row.avatar_url,
        row.creator_id,
        row.token_hash,
        row.github_secret,
    )
    assert record is not None
    return record_to(WebhookRow, record)


async def get(
    conn: asyncpg.Connection, webhook_id: int, *, lock: bool = False
) -> WebhookRow | None:
    suffix = " FOR UPDATE" if lock else ""
    record = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM webhooks WHERE id = $1{suffix}", webhook_id
    )
    return record_or_none(WebhookRow, record)


async def in_channels(
    conn: asyncpg.Connection, server_id: int, channel_ids: Sequence[int]
) -> list[WebhookRow]:
    records = await conn.fetch(
        f"SELECT {COLUMNS} FROM webhooks WHERE server_id = $1 AND channel_id = ANY($2) ORDER BY id",
        server_id,
        channel_ids,
    )
    return records_to(WebhookRow, records)


async def count_in_channel(conn: asyncpg.Connection, channel_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM webhooks WHERE channel_id = $1", channel_id
    )
    return count


async def update(
    conn: asyncpg.Connection,
    webhook_id: int,
    *,
    name: str,
    avatar_url: str | None,
    channel_id: int,
    github_secret: str | None,
) -> WebhookRow:
    record = await conn.fetchrow(
        "UPDATE webhooks SET name = $2, avatar_url = $3, channel_id = $4, github_secret = $5,"
        f" updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
        webhook_id,
        name,
        avatar_url,
        channel_id,
        github_secret,
    )
    assert record is not None
    return record_to(WebhookRow, record)


async def set_token(conn: asyncpg.Connection, webhook_id: int, token_hash: bytes) -> None:
    await conn.execute(
        "UPDATE webhooks SET token_hash = $2, updated_at = now() WHERE id = $1",
        webhook_id,
        token_hash,
    )


async def delete(conn: asyncpg.Connection, webhook_id: int) -> bool:
    status = await conn.execute("DELETE FROM webhooks WHERE id = $1", webhook_id)
    return bool(status != "DELETE 0")


async def delete_in_channel(conn: asyncpg.Connection, channel_id: int) -> list[WebhookRow]:
    records = await conn.fetch(
        f"DELETE FROM webhooks WHERE channel_id = $1 RETURNING {COLUMNS}", channel_id
    )
    return records_to(WebhookRow, records)


async def delete_in_server(conn: asyncpg.Connection, server_id: int) -> list[WebhookRow]:
    records = await conn.fetch(
        f"DELETE FROM webhooks WHERE server_id = $1 RETURNING {COLUMNS}", server_id
    )
    return records_to(WebhookRow, records)
