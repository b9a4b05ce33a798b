"""Answers the gateway's "this user's DMs and relationships" question (READY), and
"whom has this user blocked" (messages marks their messages), read-only."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import blocks
from harmoniq_common import direct as contract
from harmoniq_common.consumers import serve
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform

from ..domain.direct import user_direct
from ..store import relationships

__all__ = ["serve_blocks", "serve_direct"]


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


async def serve_blocks(platform: Platform) -> Subscription:
    async def answer(question: blocks.UserBlocksRequest) -> blocks.UserBlocks:
        async with platform.pool.acquire() as conn:
            found = await relationships.blocked_ids(conn, question.user_id)
        return blocks.UserBlocks(blocked_ids=[Snowflake(b) for b in found])

    return await serve(
        platform.nats,
        platform.subjects.rpc("guilds", blocks.USER_BLOCKS),
        blocks.UserBlocksRequest,
        answer,
        queue="guilds",
    )
