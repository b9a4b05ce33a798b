"""Answers the gateway's "this user's DMs and relationships" question (READY), read-only."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import direct as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.direct import user_direct

__all__ = ["serve_direct"]


async def serve_direct(platform: Platform) -> Subscription:
    async def answer(question: contract.UserDirectRequest) -> contract.UserDirect:
        async with (
            platform.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await user_direct(conn, question.user_id)

    return await serve(
        platform.nats,
        platform.subjects.rpc("guilds", contract.USER_DIRECT),
        contract.UserDirectRequest,
        answer,
        queue="guilds",
    )
