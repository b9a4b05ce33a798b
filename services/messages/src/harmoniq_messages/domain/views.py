"""Messages as clients and events see them."""

from __future__ import annotations

import asyncpg

from harmoniq_common.events import MessageView, ReplyPreview, UserSummary
from harmoniq_common.ids import Snowflake

from ..store import messages, reactions
from ..store.rows import MessageRow, ReactionCountRow

__all__ = ["PREVIEW_LENGTH", "author_of", "message_view", "reaction_counts", "reply_previews"]

PREVIEW_LENGTH = 100


def author_of(row: MessageRow) -> UserSummary:
    return UserSummary(
        id=row.author_id, username=row.author_username, avatar_url=row.author_avatar_url
    )


async def reply_previews(
    conn: asyncpg.Connection, rows: list[MessageRow]
) -> dict[Snowflake, ReplyPreview]:
    wanted = sorted({r.reply_to_id for r in rows if r.reply_to_id is not None})
    if not wanted:
        return {}
    found = {m.id: m for m in await messages.get_many(conn, wanted)}
    previews: dict[Snowflake, ReplyPreview] = {}
    for reply_id in wanted:
        original = found.get(reply_id)
        previews[reply_id] = (
            ReplyPreview(id=reply_id)  # deleted since: the client shows "original deleted"
            if original is None
            else ReplyPreview(
                id=reply_id,
                author=author_of(original),
                content=original.content[:PREVIEW_LENGTH],
            )
        )
    return previews


def message_view(row: MessageRow, previews: dict[Snowflake, ReplyPreview]) -> MessageView:
    return MessageView(
        id=row.id,
        server_id=row.server_id,
        channel_id=row.channel_id,
        author=author_of(row),
        content=row.content,
        created_at=row.created_at,
        edited_at=row.edited_at,
        reply_to=None if row.reply_to_id is None else previews.get(row.reply_to_id),
        mention_user_ids=row.mention_user_ids,
        mention_role_ids=row.mention_role_ids,
        mention_everyone=row.mention_everyone,
        pinned=row.pinned_at is not None,
        nonce=row.nonce,
        attachments=row.attachments,
        webhook_id=row.webhook_id,
        embeds=row.embeds,
    )


async def reaction_counts(
    conn: asyncpg.Connection, rows: list[MessageRow], viewer_id: int
) -> dict[Snowflake, list[ReactionCountRow]]:
    grouped: dict[Snowflake, list[ReactionCountRow]] = {}
    if rows:
        for count in await reactions.counts(conn, [r.id for r in rows], viewer_id):
            grouped.setdefault(count.message_id, []).append(count)
    return grouped
