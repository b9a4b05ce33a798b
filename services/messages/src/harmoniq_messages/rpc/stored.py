"""Answers media's question "which of these messages are stored" over NATS (read-only)."""

from __future__ import annotations

from functools import partial

from nats.aio.subscription import Subscription

from harmoniq_common import stored_messages as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.stored import stored_messages

__all__ = ["serve_stored_messages"]


async def serve_stored_messages(platform: Platform) -> Subscription:
    return await serve(
        platform.nats,
        platform.subjects.rpc("messages", contract.MESSAGES_STORED),
        contract.StoredMessagesRequest,
        partial(stored_messages, platform),
        queue="messages",
    )
