"""Messages posted by incoming webhooks, asked by the bots service over NATS
(:data:`harmoniq_common.webhooks.WEBHOOK_EXECUTE`).

bots has checked the token, the payload (Discord's limits) and the webhook's rate limit, and
names the webhook's channel; here the message is stored with the webhook as its author and
announced as the usual ``message.create``, in the same transaction (the outbox), so the
gateway delivers it live like any other. What notifies follows the execution's
``allowed_mentions`` instead of a member's permissions: users and roles written in the
content, each kind only if allowed (by ``parse`` or by id), and ``@everyone`` / ``@here``
only when ``parse`` names ``everyone``.
"""

from __future__ import annotations

from harmoniq_common.events import MessageCreated, MessageView
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.uow import unit_of_work
from harmoniq_common.webhooks import AllowedMentions, ExecuteWebhook

from ..store import webhook_messages
from .content import _EVERYONE, _ROLE, _USER, _unique, has_link
from .views import message_view

__all__ = ["WebhookMessages", "allowed_mentions"]


def allowed_mentions(content: str, allowed: AllowedMentions) -> tuple[list[int], list[int], bool]:
    """The user ids, role ids and whether everyone is mentioned, as ``allowed`` lets them."""

    def kind(pattern_ids: list[Snowflake], name: str, listed: list[Snowflake]) -> list[int]:
        if name in allowed.parse:
            return [int(i) for i in pattern_ids]
        wanted = set(listed)
        return [int(i) for i in pattern_ids if i in wanted]

    return (
        kind(_unique(_USER.findall(content)), "users", allowed.users),
        kind(_unique(_ROLE.findall(content)), "roles", allowed.roles),
        "everyone" in allowed.parse and _EVERYONE.search(content) is not None,
    )


class WebhookMessages:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def post(self, post: ExecuteWebhook) -> MessageView:
        mentions = allowed_mentions(post.content, post.allowed_mentions)
        async with unit_of_work(self._platform) as tx:
            row = await webhook_messages.insert(
                tx.conn, self._platform.new_id(), post, mentions, has_link(post.content)
            )
            view = message_view(row, {})
            await tx.emit_server(post.server_id, MessageCreated(message=view))
        return view
