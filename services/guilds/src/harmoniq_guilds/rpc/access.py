"""Answers other services' access questions over NATS request/reply (read-only)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import access as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.access import (
    answer_channel_access,
    answer_server_access,
    answer_server_access_many,
)

__all__ = ["serve_access"]


async def serve_access(platform: Platform) -> list[Subscription]:
    async def channel_access(question: contract.ChannelAccessRequest) -> contract.ChannelAccess:
        async with platform.pool.acquire() as conn:
            return await answer_channel_access(conn, question)

    async def server_access(question: contract.ServerAccessRequest) -> contract.ServerAccess:
        async with platform.pool.acquire() as conn:
            return await answer_server_access(conn, question)

    async def server_access_many(
        question: contract.ServerAccessManyRequest,
    ) -> contract.ServerAccessMany:
        async with platform.pool.acquire() as conn:
            return await answer_server_access_many(conn, question)

    subjects = platform.subjects
    return [
        await serve(
            platform.nats,
            subjects.rpc("guilds", contract.CHANNEL_ACCESS),
            contract.ChannelAccessRequest,
            channel_access,
            queue="guilds",
        ),
        await serve(
            platform.nats,
            subjects.rpc("guilds", contract.SERVER_ACCESS),
            contract.ServerAccessRequest,
            server_access,
            queue="guilds",
        ),
        await serve(
            platform.nats,
            subjects.rpc("guilds", contract.SERVER_ACCESS_MANY),
            contract.ServerAccessManyRequest,
            server_access_many,
            queue="guilds",
        ),
    ]
