"""Answers the gateway's READY question about read states over NATS (read-only)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import read_states as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.read_states import ReadStateBook

__all__ = ["serve_read_states"]


async def serve_read_states(platform: Platform, book: ReadStateBook) -> Subscription:
    return await serve(
        platform.nats,
        platform.subjects.rpc("messages", contract.READ_STATES),
        contract.ReadStatesRequest,
        book.states,
        queue="messages",
    )
