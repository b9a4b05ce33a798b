"""Request and response bodies of the webhooks API, with their limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from harmoniq_common.ids import Snowflake
from harmoniq_common.validation import LINE_CHAR, TEXT_CHAR, VISIBLE_CHAR, anchored
from harmoniq_common.webhooks import MAX_CONTENT, MAX_EMBEDS, AllowedMentions, Embed, Url

__all__ = [
    "ExecuteIn",
    "SlackIn",
    "WebhookCreate",
    "WebhookEdit",
    "WebhookOut",
    "WebhookTokenEdit",
]

# A display name with something visible in it (Discord's 1-80 characters).
Name = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=80,
        pattern=anchored(f"{LINE_CHAR}*{VISIBLE_CHAR}{LINE_CHAR}*"),
        description="1 to 80 characters, something visible, no control characters",
    ),
]
Content = Annotated[
    str,
    Meta(
        max_length=MAX_CONTENT,
        pattern=anchored(f"{TEXT_CHAR}*"),
        description="no control characters but \\t \\n \\r",
    ),
]

# GitHub's webhook secret (any text GitHub accepts; it signs with it, we check with it).
Secret = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=256,
        pattern=anchored(f"{LINE_CHAR}*"),
        description="the secret GitHub signs deliveries with (write-only)",
    ),
]


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    channel_id: Snowflake
    name: Name
    avatar_url: Url | None = None
    # Or an upload of the caller's (purpose "avatar"), shown at media's public route.
    avatar_id: Snowflake | None = None
    github_secret: Secret | None = None


class WebhookEdit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only what is given changes; ``avatar_url: null`` removes the avatar."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    avatar_url: Url | msgspec.UnsetType | None = msgspec.UNSET
    avatar_id: Snowflake | msgspec.UnsetType = msgspec.UNSET
    channel_id: Snowflake | msgspec.UnsetType = msgspec.UNSET
    github_secret: Secret | msgspec.UnsetType | None = msgspec.UNSET  # null removes it


class WebhookTokenEdit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """With the token: name and avatar only (moving it takes a member's authorization)."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    avatar_url: Url | msgspec.UnsetType | None = msgspec.UNSET


class WebhookOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    name: str
    avatar_url: str | None
    creator_id: Snowflake
    created_at: datetime
    github_secret_set: bool  # whether GitHub deliveries must be signed
    # Only when created or regenerated: the secret and the URL that executes the webhook.
    token: str | None = None
    url: str | None = None


class ExecuteIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Discord's execute payload (JSON); content or embeds required."""

    content: Content | None = None
    username: Name | None = None
    avatar_url: Url | None = None
    tts: bool = False  # accepted for Discord's clients; messages are never spoken
    embeds: Annotated[list[Embed], Meta(max_length=MAX_EMBEDS)] = []
    allowed_mentions: AllowedMentions | None = None


class SlackIn(msgspec.Struct, kw_only=True):
    """Slack's incoming-webhook payload. Unknown fields are ignored, as Slack ignores them
    (``channel``, ``icon_emoji``, ``unfurl_links``…): tools send them unchanged."""

    text: str | None = None
    username: str | None = None
    icon_url: str | None = None
    attachments: Annotated[list[dict[str, Any]], Meta(max_length=100)] = []
    blocks: Annotated[list[dict[str, Any]], Meta(max_length=50)] = []
