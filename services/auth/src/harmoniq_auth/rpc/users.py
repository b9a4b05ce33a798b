"""Answers other services' questions about users over NATS request/reply (read-only)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common.consumers import serve
from harmoniq_common.directory import USER_SUMMARIES, UserSummaries, UserSummariesRequest
from harmoniq_common.platform import Platform

from ..domain.accounts import summary
from ..store import users

__all__ = ["serve_users"]


async def serve_users(platform: Platform) -> Subscription:
    async def user_summaries(question: UserSummariesRequest) -> UserSummaries:
        async with platform.pool.acquire() as conn:
            rows = await users.get_many(conn, question.ids)
        return UserSummaries(users=[summary(r) for r in rows if r.deleted_at is None])

    return await serve(
        platform.nats,
        platform.subjects.rpc("auth", USER_SUMMARIES),
        UserSummariesRequest,
        user_summaries,
        queue="auth",
    )
