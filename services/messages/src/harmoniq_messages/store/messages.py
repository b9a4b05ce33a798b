"""SQL for messages: write, read by cursor, pins, and removal in bounded batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import msgspec

from harmoniq_common.codec import enc_hook
from harmoniq_common.db import record_or_none, records_to
from harmoniq_common.events import UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import Attachment
from harmoniq_common.outbox import OutboxRow, insert_rows_sql, row_arrays
from harmoniq_common.stored_messages import StoredMessage

from .rows import MessageRow

__all__ = [
    "NewMessage",
    "SendOutcome",
    "delete",
    "delete_by_author_since",
    "delete_channel_batch",
    "delete_many",
    "delete_server_batch",
    "find_by_nonce",
    "get",
    "get_many",
    "history",
    "is_image",
    "pins",
    "send",
    "set_pinned",
    "stored",
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


# One statement writes the message, its author's read state and the message's outbox rows
# (data-modifying CTEs: they commit together, with no BEGIN/COMMIT round trips). It writes only
# if the author is still as the caller assumed (the events carry the author, encoded before
# the statement) and a reply's original is in the channel; the answer says which condition
# held and who the author is now, so a caller whose assumption was stale encodes again.
# Parameters: $1..$15 the message, $16/$17 the author's assumed name and avatar, $18 its
# creation time, $19..$22 the outbox rows (harmoniq_common.outbox.row_arrays).
_SEND = f"""
WITH author AS (
    SELECT coalesce(u.username, 'unknown') AS username, u.avatar_url
    FROM (SELECT 1) AS one LEFT JOIN users u ON u.id = $4::bigint
), checked AS (
    SELECT author.*,
        author.username = $16::text AND author.avatar_url IS NOT DISTINCT FROM $17::text
            AS author_current,
        ($7::bigint IS NULL OR EXISTS (
            SELECT 1 FROM messages r WHERE r.id = $7::bigint AND r.channel_id = $3::bigint
        )) AS reply_found
    FROM author
), m AS (
    INSERT INTO messages (id, server_id, channel_id, author_id, content, nonce, reply_to_id,
        mention_user_ids, mention_role_ids, mention_everyone, has_link,
        attachments, has_attachment, has_image, has_file, created_at)
    SELECT $1::bigint, $2::bigint, $3::bigint, $4::bigint, $5::text, $6::text, $7::bigint,
        $8::bigint[], $9::bigint[], $10::boolean, $11::boolean,
        $12::jsonb, $13::boolean, $14::boolean, $15::boolean, $18::timestamptz
    FROM checked WHERE author_current AND reply_found
    ON CONFLICT (channel_id, author_id, nonce) WHERE nonce IS NOT NULL DO NOTHING
    RETURNING id
), read_state AS (
    -- Its author has read their own channel up to it (as read_states.advance).
    INSERT INTO read_states (user_id, channel_id, last_read_id) SELECT $4::bigint, $3::bigint, id FROM m
    ON CONFLICT (user_id, channel_id) DO UPDATE
    SET last_read_id = excluded.last_read_id, updated_at = now()
    WHERE read_states.last_read_id < excluded.last_read_id
), events AS ({insert_rows_sql(19, only_if="EXISTS (SELECT 1 FROM m)")})
SELECT EXISTS (SELECT 1 FROM m) AS inserted, author_current, reply_found,
    username AS author_username, avatar_url AS author_avatar_url
FROM checked
"""


class SendOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What :func:`send` did: ``inserted`` (the message and its events are committed), else
    which of its conditions failed (neither: this author already sent this nonce here)."""

    inserted: bool
    author_current: bool
    reply_found: bool
    author_username: str  # the author as the users projection holds them now
    author_avatar_url: str | None


async def send(
    conn: asyncpg.Connection,
    new: NewMessage,
    author: UserSummary,
    created_at: datetime,
    events: Sequence[OutboxRow],
) -> SendOutcome:
    """Write ``new`` (as ``author`` wrote it at ``created_at``) with its author's read state
    and ``events``, in one statement; nothing at all unless ``author`` is current, a reply's
    original is in the channel, and the nonce is new."""
    record = await conn.fetchrow(
        _SEND,
        *_message_values(new),
        author.username,
        author.avatar_url,
        created_at,
        *row_arrays(events),
    )
    assert record is not None  # "checked" is always one row
    return SendOutcome(**dict(record.items()))


def _message_values(new: NewMessage) -> tuple[object, ...]:
    """$1..$15 of :data:`_SEND`, in its column order."""
    return (
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


async def stored(
    db: asyncpg.Connection | asyncpg.Pool, message_ids: Sequence[int]
) -> list[StoredMessage]:
    """The asked messages that are stored, as media's link confirmation needs them."""
    records = await db.fetch(
        "SELECT id, channel_id, server_id, author_id FROM messages WHERE id = ANY($1::bigint[])",
        message_ids,
    )
    return records_to(StoredMessage, records)


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
