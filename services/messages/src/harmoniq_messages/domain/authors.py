"""The users projection: kept by auth's events, completed on demand by asking auth."""

from __future__ import annotations

import structlog

from harmoniq_common.consumers import request
from harmoniq_common.directory import USER_SUMMARIES, UserSummaries, UserSummariesRequest
from harmoniq_common.errors import ApiError
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform

from ..store import users

__all__ = ["KnownAuthors", "ensure_known"]

log = structlog.get_logger(__name__)


async def ensure_known(platform: Platform, user_ids: list[int]) -> set[int]:
    """Make sure these users are in the projection before a message shows them; those that
    are in it now.

    A user who posts right after registering can be ahead of auth's events; rather than show
    them as "unknown" in the message everybody receives, ask auth. If auth does not answer,
    the message is still accepted (the name fills in when the event arrives).
    """
    async with platform.pool.acquire() as conn:
        known = await users.known_ids(conn, user_ids)
    missing = [u for u in set(user_ids) if u not in known]
    if not missing:
        return known
    try:
        answer = await request(
            platform.nats,
            platform.subjects.rpc("auth", USER_SUMMARIES),
            UserSummariesRequest(ids=[Snowflake(u) for u in missing]),
            UserSummaries,
            timeout=1.0,
        )
    except ApiError:
        log.warning("messages.user_lookup_failed", user_ids=missing)
        return known
    async with platform.pool.acquire() as conn:
        for summary in answer.users:
            await users.USERS.upsert(conn, summary)
    return known | {int(summary.id) for summary in answer.users}


class KnownAuthors:
    """Who this process has seen in the projection. A user never leaves it (deletion only
    anonymises the row), so a send by someone seen before skips the lookup: one pool
    checkout and query less on every message."""

    def __init__(self, platform: Platform, limit: int = 100_000) -> None:
        self._platform = platform
        self._limit = limit
        self._seen: set[int] = set()

    async def ensure(self, user_ids: list[int]) -> None:
        unseen = [u for u in user_ids if u not in self._seen]
        if not unseen:
            return
        if len(self._seen) >= self._limit:
            self._seen.clear()  # bounded memory; the cost is one lookup per author again
        self._seen |= await ensure_known(self._platform, unseen)
