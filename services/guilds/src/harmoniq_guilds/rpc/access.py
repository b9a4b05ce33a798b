"""Answers other services' access questions over NATS request/reply (read-only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
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

Answer = Callable[[asyncpg.Connection, Any], Awaitable[Any]]

QUESTIONS: tuple[tuple[str, type[Any], Answer], ...] = (
    (contract.CHANNEL_ACCESS, contract.ChannelAccessRequest, answer_channel_access),
    (contract.SERVER_ACCESS, contract.ServerAccessRequest, answer_server_access),
    (contract.SERVER_ACCESS_MANY, contract.ServerAccessManyRequest, answer_server_access_many),
)


def _on_a_connection(platform: Platform, answer: Answer) -> Callable[[Any], Awaitable[Any]]:
    async def handler(question: Any) -> Any:
        async with platform.pool.acquire() as conn:
            return await answer(conn, question)

    return handler


async def serve_access(platform: Platform) -> list[Subscription]:
    return [
        await serve(
            platform.nats,
            platform.subjects.rpc("guilds", name),
            kind,
            _on_a_connection(platform, answer),
            queue="guilds",
        )
        for name, kind, answer in QUESTIONS
    ]
