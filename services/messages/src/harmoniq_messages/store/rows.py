"""Rows as the domain sees them (built from asyncpg records by ``harmoniq_common.db.records_to``)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from harmoniq_common.ids import Snowflake
from harmoniq_common.media import Attachment
from harmoniq_common.webhooks import Embed

__all__ = ["MessageRow", "NotificationSettingRow", "ReactionCountRow", "ReadStateRow"]


class MessageRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    author_id: Snowflake
    author_username: str
    author_avatar_url: str | None
    content: str
    nonce: str | None
    reply_to_id: Snowflake | None
    mention_user_ids: list[Snowflake]
    mention_role_ids: list[Snowflake]
    mention_everyone: bool
    has_link: bool
    has_attachment: bool
    attachments: list[Attachment]  # as media described them when linked
    pinned_at: datetime | None
    edited_at: datetime | None
    created_at: datetime
    webhook_id: Snowflake | None = None  # a webhook's message (services/bots)
    embeds: list[Embed] = []


class ReactionCountRow(msgspec.Struct, frozen=True, kw_only=True):
    message_id: Snowflake
    emoji: str
    count: int
    me: bool


class ReadStateRow(msgspec.Struct, frozen=True, kw_only=True):
    channel_id: Snowflake
    last_read_id: int  # 0: never acked
    last_message_id: int  # 0: no message
    level: str
    muted: bool
    mention_count: int


class NotificationSettingRow(msgspec.Struct, frozen=True, kw_only=True):
    scope_id: Snowflake
    level: str | None
    muted_until: datetime | None
