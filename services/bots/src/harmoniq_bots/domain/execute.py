"""Executing a webhook: its token opens it, its rate limit admits it, and messages stores the
message (asked over NATS, :data:`harmoniq_common.webhooks.WEBHOOK_EXECUTE`), which announces it
as the usual ``message.create`` through its own outbox.

The limit is per webhook (Discord's 5 per 2 s by default), shared by every instance through
Redis, and counted only once the token is right: nobody without the token can spend a
webhook's budget. A call that times out may still have posted (messages committed, its answer
was lost); like Discord, executions carry no idempotency key.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from harmoniq_common.consumers import request
from harmoniq_common.errors import BadRequest
from harmoniq_common.events import MessageView
from harmoniq_common.platform import Platform
from harmoniq_common.ratelimit import RateLimit
from harmoniq_common.webhooks import (
    MAX_EMBED_CHARACTERS,
    WEBHOOK_EXECUTE,
    AllowedMentions,
    Embed,
    ExecuteWebhook,
    embed_characters,
)

from ..settings import BotsSettings
from ..store.rows import WebhookRow

__all__ = ["Execution", "Executor"]


@dataclass(frozen=True)
class Execution:
    content: str | None
    username: str | None
    avatar_url: str | None
    embeds: list[Embed]
    allowed_mentions: AllowedMentions | None


def check(execution: Execution) -> None:
    """What the body's types cannot say: something to show, the embeds' total, mentions."""
    if not (execution.content or "").strip() and not execution.embeds:
        raise BadRequest.for_field(
            "content", "a message needs content or embeds", code="empty_message"
        )
    try:
        # Embeds built by a translation (Slack, GitHub) were never decoded: check them as the
        # consumers of message.create will decode them.
        msgspec.convert(msgspec.to_builtins(execution.embeds), list[Embed])
    except msgspec.ValidationError as exc:
        raise BadRequest.for_field("embeds", str(exc)) from exc
    total = embed_characters(execution.embeds)
    if total > MAX_EMBED_CHARACTERS:
        raise BadRequest.for_field(
            "embeds",
            f"embeds hold {total} characters in all, over the limit of {MAX_EMBED_CHARACTERS}",
            code="embeds_too_long",
        )
    mentions = execution.allowed_mentions
    if mentions is not None:
        for kind in ("users", "roles"):
            if kind in mentions.parse and getattr(mentions, kind):
                raise BadRequest.for_field(
                    f"allowed_mentions.{kind}",
                    f"list {kind} one by one or parse them all, not both",
                )


class Executor:
    def __init__(self, platform: Platform, settings: BotsSettings) -> None:
        self._platform = platform
        self._limit = RateLimit(
            "webhook-execute",
            settings.webhook_execute_rate_limit,
            settings.webhook_execute_rate_period_seconds,
        )

    @property
    def limit(self) -> RateLimit:
        return self._limit

    async def post(self, row: WebhookRow, execution: Execution) -> MessageView:
        """Post as ``row`` (opened by its token, admitted by :attr:`limit`)."""
        check(execution)
        return await request(
            self._platform.nats,
            self._platform.subjects.rpc("messages", WEBHOOK_EXECUTE),
            ExecuteWebhook(
                webhook_id=row.id,
                server_id=row.server_id,
                channel_id=row.channel_id,
                username=execution.username or row.name,
                avatar_url=execution.avatar_url or row.avatar_url,
                content=execution.content or "",
                embeds=execution.embeds,
                allowed_mentions=execution.allowed_mentions or AllowedMentions(),
            ),
            MessageView,
            timeout=5.0,
        )
