"""Incoming webhooks: what bots and messages share about them.

The bots service owns webhooks (their channel, name, avatar and hashed token); a webhook's
execution becomes a message that the messages service stores and announces like any other
(``message.create``), asked over NATS request/reply (:data:`WEBHOOK_EXECUTE`). The message's
author id is the webhook's id, shown with the name and avatar the webhook (or the execution's
overrides) gives, and carries ``webhook_id`` and the execution's ``embeds``.

Embeds follow Discord's shape and limits (https://discord.com/developers/docs/resources/message
#embed-object-embed-limits): at most :data:`MAX_EMBEDS` per message, each part within its own
limit below, and :data:`MAX_EMBED_CHARACTERS` over the text of all of them (titles,
descriptions, field names and values, footers, author names), which :func:`embed_characters`
counts. Strings refuse control characters (multi-line ones keep tab, LF and CR); URLs are
http(s) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from .ids import Snowflake
from .validation import LINE_CHAR, TEXT_CHAR, anchored

__all__ = [
    "MAX_CONTENT",
    "MAX_EMBEDS",
    "MAX_EMBED_CHARACTERS",
    "MAX_EMBED_FIELDS",
    "WEBHOOK_EXECUTE",
    "AllowedMentions",
    "Embed",
    "EmbedAuthor",
    "EmbedField",
    "EmbedFooter",
    "EmbedMedia",
    "ExecuteWebhook",
    "Url",
    "WebhookView",
    "embed_characters",
]

WEBHOOK_EXECUTE = "webhook_execute"  # messages' RPC: store and announce a webhook's message
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_FIELDS = 25
MAX_EMBED_CHARACTERS = 6000
MAX_URL = 2048

Url = Annotated[
    str,
    Meta(
        max_length=MAX_URL,
        pattern=anchored(r"https?://[^\s\x00-\x1f\x7f-\x9f]+"),
        description="an http(s) URL",
    ),
]


def _line(max_length: int, min_length: int = 0) -> object:
    return Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=anchored(f"{LINE_CHAR}*"),
        description="no control characters",
    )


def _text(max_length: int, min_length: int = 0) -> object:
    return Meta(
        min_length=min_length,
        max_length=max_length,
        pattern=anchored(f"{TEXT_CHAR}*"),
        description="no control characters but \\t \\n \\r",
    )


class EmbedField(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    name: Annotated[str, _line(256, 1)]
    value: Annotated[str, _text(1024, 1)]
    inline: bool = False


class EmbedAuthor(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    name: Annotated[str, _line(256, 1)]
    url: Url | None = None
    icon_url: Url | None = None


class EmbedFooter(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    text: Annotated[str, _text(2048, 1)]
    icon_url: Url | None = None


class EmbedMedia(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    url: Url


class Embed(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    type: Literal["rich"] = "rich"
    title: Annotated[str, _line(256)] | None = None
    description: Annotated[str, _text(4096)] | None = None
    url: Url | None = None
    color: Annotated[int, Meta(ge=0, le=0xFFFFFF)] | None = None
    timestamp: datetime | None = None
    fields: Annotated[list[EmbedField], Meta(max_length=MAX_EMBED_FIELDS)] = []
    author: EmbedAuthor | None = None
    footer: EmbedFooter | None = None
    image: EmbedMedia | None = None
    thumbnail: EmbedMedia | None = None


def embed_characters(embeds: Sequence[Embed]) -> int:
    """The text Discord counts against :data:`MAX_EMBED_CHARACTERS`."""
    total = 0
    for embed in embeds:
        total += len(embed.title or "") + len(embed.description or "")
        total += sum(len(f.name) + len(f.value) for f in embed.fields)
        total += len(embed.footer.text) if embed.footer else 0
        total += len(embed.author.name) if embed.author else 0
    return total


class AllowedMentions(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """What in the content may notify (Discord's ``allowed_mentions``). ``parse`` names the
    kinds taken from the content; ``users`` / ``roles`` list ids allowed one by one (not
    together with the same kind in ``parse``). Without it a webhook's message mentions users
    and roles but never ``@everyone`` / ``@here``."""

    parse: Annotated[list[Literal["users", "roles", "everyone"]], Meta(max_length=3)] = (
        msgspec.field(default_factory=lambda: ["users", "roles"])
    )
    users: Annotated[list[Snowflake], Meta(max_length=100)] = []
    roles: Annotated[list[Snowflake], Meta(max_length=100)] = []


class WebhookView(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook as its managers and events see it (never its token)."""

    id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    name: str
    avatar_url: str | None = None
    creator_id: Snowflake
    created_at: datetime


class ExecuteWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """bots → messages: store this webhook's message in its channel and announce it. bots has
    checked the token, the payload and the rate limit; messages trusts it (internal RPC)."""

    webhook_id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    username: str  # the name shown: the execution's override or the webhook's own
    avatar_url: str | None = None
    content: str = ""
    embeds: list[Embed] = []
    allowed_mentions: AllowedMentions = AllowedMentions()
