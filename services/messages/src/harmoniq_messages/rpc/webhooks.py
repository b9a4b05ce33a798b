"""Answers the bots service's requests to post a webhook's message."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common.consumers import serve
from harmoniq_common.events import MessageView
from harmoniq_common.platform import Platform
from harmoniq_common.webhooks import WEBHOOK_EXECUTE, ExecuteWebhook

from ..domain.webhook_messages import WebhookMessages

__all__ = ["serve_webhook_messages"]


async def serve_webhook_messages(platform: Platform) -> Subscription:
    posts = WebhookMessages(platform)

    async def execute(question: ExecuteWebhook) -> MessageView:
        return await posts.post(question)

    return await serve(
        platform.nats,
        platform.subjects.rpc("messages", WEBHOOK_EXECUTE),
        ExecuteWebhook,
        execute,
        queue="messages",
    )
