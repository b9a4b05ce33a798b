"""SQL for messages: write, read by cursor, pins, and removal in bounded batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import msgspec

from harmoniq_common.codec import enc_hook
from harmoniq_common.db import record_or_none, records_to
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import Attachment

from .rows import MessageRow

__all__ = [
    "NewMessage",
    "delete",
    "delete_by_author_since",
    "delete_channel_batch",
    "delete_many",
    "delete_server_batch",
    "find_by_nonce",
    "get",
    "get_many",
    "history",
    "insert",
    "is_image",
    "pins",
    "set_pinned",
    "update_content",
]

SELECT = (
    "SELECT m.id, m.server_id, m.channel_id, m.author_id,"
    # A webhook's message names its author itself (author_name); a user's comes from users.
    " coalesce(m.author_name, u.username, 'unknown') AS author_username,"
    " CASE WHEN m.webhook_id IS NULL THEN u.avatar_url ELSE m.author_avatar_url END"
    " AS author_avatar_url,"
    " m.content, m.nonce, m.reply_to_id, m.mention_user_ids, m.mention_role_ids,"
    " m.mention_everyone, m.has_link, m.has_attachment, m.attachments,"
    " m.pinned_at, m.edited_at, m.created_at, m.webhook_id, m.embeds"
    " FROM messages m LEFT JOIN users u ON u.id = m.author_id"
)


def is_image(attachment: Attachment) -> bool:
    return attachment.content_type.startswith("image/")


@dataclass(frozen=True)
class NewMessage:
    id: Snowflake
    server_id: int
    channel_id: int
    author_id: int
    content: str
    nonce: str | None
    reply_to_id: int | None
    mention_user_ids: Sequence[int]
    mention_role_ids: list[int]
    mention_everyone: bool
    has_link: bool
    attachments: list[Attachment] = field(default_factory=list)


# The row as SELECT reads it, straight from the INSERT (no second statement to read it back).
_INSERT = (
    "WITH m AS ("
    "INSERT INTO messages (id, server_id, channel_id, author_id, content, nonce, reply_to_id,"
    " mention_user_ids, mention_role_ids, mention_everyone, has_link,"
    " attachments, has_attachment, has_image, has_file)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13, $14, $15)"
    " ON CONFLICT (channel_id, author_id, nonce) WHERE nonce IS NOT NULL DO NOTHING"
    " RETURNING *) " + SELECT.replace("FROM messages m", "FROM m", 1)
)


async def insert(conn: asyncpg.Connection, new: NewMessage) -> MessageRow | None:
    """The stored message, or ``None`` when this author already sent this nonce here."""
    inserted = await conn.fetchrow(
        _INSERT,
        new.id,
        new.server_id,
        new.channel_id,
        new.author_id,
        new.content,
        new.nonce,
        new.reply_to_id,
        new.mention_user_ids,
        new.mention_role_ids,
        new.mention_everyone,
        new.has_link,
        msgspec.to_builtins(new.attachments, enc_hook=enc_hook),
        bool(new.attachments),
        any(is_image(a) for a in new.attachments),
        any(not is_image(a) for a in new.attachments),
    )
    return record_or_none(MessageRow, inserted)


async def find_by_nonce(
    conn: asyncpg.Connection, channel_id: int, author_id: int, nonce: str
) -> MessageRow | None:
    record = await conn.fetchrow(
        f"{SELECT} WHERE m.channel_id = $1 AND m.author_id = $2 AND m.nonce = $3",
        channel_id,
        author_id,
        nonce,
    )
    return record_or_none(MessageRow, record)


async def get(conn: asyncpg.Connection, message_id: int) -> MessageRow | None:
    return record_or_none(MessageRow, await conn.fetchrow(f"{SELECT} WHERE m.id = $1", message_id))


async def get_many(conn: asyncpg.Connection, message_ids: Sequence[int]) -> list[MessageRow]:
    return records_to(MessageRow, await conn.fetch(f"{SELECT} WHERE m.id = ANY($1)", message_ids))


async def history(
    conn: asyncpg.Connection,
    channel_id: int,
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int = 50,
) -> list[MessageRow]:
    """Newest first. ``around`` takes half the page before the id and half from it onwards."""
    if around is not None:
        older = await history(conn, channel_id, before=around, limit=limit // 2)
        newer_first = await conn.fetch(
            f"{SELECT} WHERE m.channel_id = $1 AND m.id >= $2 ORDER BY m.id LIMIT $3",
            channel_id,
            around,
            limit - limit // 2,
        )
        return list(reversed(records_to(MessageRow, newer_first))) + older
    if after is not None:
        # The page right after the cursor (oldest first in SQL), returned newest first.
        records = await conn.fetch(
            f"{SELECT} WHERE m.channel_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3",
            channel_id,
            after,
            limit,
        )
        return list(reversed(records_to(MessageRow, records)))
    records = await conn.fetch(
        f"{SELECT} WHERE m.channel_id = $1 AND m.id < $2 ORDER BY m.id DESC LIMIT $3",
        channel_id,
        before if before is not None else (1 << 63) - 1,
        limit,
    )
    return records_to(MessageRow, records)


async def update_content(
    conn: asyncpg.Connection,
    message_id: int,
    content: str,
    mention_user_ids: Sequence[int],
    mention_role_ids: list[int],
    mention_everyone: bool,
    has_link: bool,
    edited_at: datetime,
) -> None:
    await conn.execute(
        "UPDATE messages SET content = $2, mention_user_ids = $3, mention_role_ids = $4,"
        " mention_everyone = $5, has_link = $6, edited_at = $7 WHERE id = $1",
        message_id,
        content,
        mention_user_ids,
        mention_role_ids,
        mention_everyone,
        has_link,
        edited_at,
    )


async def delete(conn: asyncpg.Connection, message_id: int) -> bool:
    status = await conn.execute("DELETE FROM messages WHERE id = $1", message_id)
    return bool(status != "DELETE 0")


async def delete_many(
    conn: asyncpg.Connection, channel_id: int, message_ids: Sequence[int]
) -> list[Snowflake]:
    records = await conn.fetch(
        "DELETE FROM messages WHERE channel_id = $1 AND id = ANY($2) RETURNING id",
        channel_id,
        message_ids,
    )
    return sorted(Snowflake(r["id"]) for r in records)


async def set_pinned(conn: asyncpg.Connection, message_id: int, pinned_at: datetime | None) -> None:
    await conn.execute("UPDATE messages SET pinned_at = $2 WHERE id = $1", message_id, pinned_at)


async def pins(conn: asyncpg.Connection, channel_id: int) -> list[MessageRow]:
    records = await conn.fetch(
        f"{SELECT} WHERE m.channel_id = $1 AND m.pinned_at IS NOT NULL ORDER BY m.pinned_at DESC",
        channel_id,
    )
    return records_to(MessageRow, records)


async def delete_channel_batch(conn: asyncpg.Connection, channel_id: int, limit: int) -> int:
    status = await conn.execute(
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE channel_id = $1 LIMIT $2)",
        channel_id,
        limit,
    )
    return int(status.split()[-1])


async def delete_server_batch(conn: asyncpg.Connection, server_id: int, limit: int) -> int:
    status = await conn.execute(
        "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE server_id = $1 LIMIT $2)",
        server_id,
        limit,
    )
    return int(status.split()[-1])


async def delete_by_author_since(
    conn: asyncpg.Connection, server_id: int, author_id: int, since_id: int
) -> dict[Snowflake, list[Snowflake]]:
    """Remove an author's messages in a server from ``since_id`` on: deleted ids per channel."""
    records = await conn.fetch(
        "DELETE FROM messages WHERE author_id = $1 AND server_id = $2 AND id >= $3"
        " RETURNING channel_id, id",
        author_id,
        server_id,
        since_id,
    )
    by_channel: dict[Snowflake, list[Snowflake]] = {}
    for r in records:
        by_channel.setdefault(Snowflake(r["channel_id"]), []).append(Snowflake(r["id"]))
    return {channel: sorted(ids) for channel, ids in by_channel.items()}
