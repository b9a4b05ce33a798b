"""Answers the gateway's "everything this user sees" question over NATS (read-only)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import access as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.snapshots import user_servers

__all__ = ["serve_snapshots"]


async def serve_snapshots(platform: Platform) -> Subscription:
    async def answer(question: contract.UserServersRequest) -> contract.UserServers:
        async with (
            platform.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            # One consistent snapshot across all the user's servers.
            return await user_servers(conn, question)

    return await serve(
        platform.nats,
        platform.subjects.rpc("guilds", contract.USER_SERVERS),
        contract.UserServersRequest,
        answer,
        queue="guilds",
    )
