"""SQL for webhooks' messages (the columns of migration 0004)."""

from __future__ import annotations

import asyncpg
import msgspec

from harmoniq_common.codec import enc_hook
from harmoniq_common.webhooks import ExecuteWebhook

from . import messages
from .rows import MessageRow

__all__ = ["insert"]


async def insert(
    conn: asyncpg.Connection,
    message_id: int,
    post: ExecuteWebhook,
    mentions: tuple[list[int], list[int], bool],
    has_link: bool,
) -> MessageRow:
    user_ids, role_ids, everyone = mentions
    await conn.execute(
        "INSERT INTO messages (id, server_id, channel_id, author_id, content, webhook_id,"
        " author_name, author_avatar_url, embeds, mention_user_ids, mention_role_ids,"
        " mention_everyone, has_link)"
        " VALUES ($1, $2, $3, $4, $5, $4, $6, $7, $8::jsonb, $9, $10, $11, $12)",
        message_id,
        post.server_id,
        post.channel_id,
        post.webhook_id,
        post.content,
        post.username,
        post.avatar_url,
        msgspec.to_builtins(post.embeds, enc_hook=enc_hook),
        user_ids,
        role_ids,
        everyone,
        has_link,
    )
    row = await messages.get(conn, message_id)
    assert row is not None
    return row
