"""Rows as the domain sees them (built from asyncpg records by ``harmoniq_common.db``)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from harmoniq_common.ids import Snowflake
from harmoniq_common.webhooks import WebhookView

__all__ = ["WebhookRow"]


class WebhookRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    name: str
    avatar_url: str | None
    creator_id: Snowflake
    token_hash: bytes
    created_at: datetime
    github_secret: str | None = None  # signs GitHub's deliveries; never shown

    def view(self) -> WebhookView:
        return WebhookView(
            id=self.id,
            server_id=self.server_id,
            channel_id=self.channel_id,
            name=self.name,
            avatar_url=self.avatar_url,
            creator_id=self.creator_id,
            created_at=self.created_at,
        )
