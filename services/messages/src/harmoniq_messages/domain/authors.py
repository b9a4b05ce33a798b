"""The users projection: kept by auth's events, completed on demand by asking auth."""

from __future__ import annotations

import structlog

from harmoniq_common.consumers import request
from harmoniq_common.directory import USER_SUMMARIES, UserSummaries, UserSummariesRequest
from harmoniq_common.errors import ApiError
from harmoniq_common.events import UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform

from ..store import users

__all__ = ["UNKNOWN_AUTHOR", "KnownAuthors", "ensure_known"]

# The name a message shows while its author is missing from the projection (store.messages).
UNKNOWN_AUTHOR = "unknown"

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
    """How this process last saw each author in the projection, so that a send can encode its
    event before the statement that writes it (one statement, no transaction: see
    ``store.messages.send``). A guess, checked: the statement writes only if the projection
    still holds exactly this name and avatar, and otherwise answers with what it holds, which
    :meth:`correct` remembers for the retry. A first send by someone not seen yet costs one
    lookup (and asks auth when the projection lacks them: :func:`ensure_known`)."""

    def __init__(self, platform: Platform, limit: int = 100_000) -> None:
        self._platform = platform
        self._limit = limit
        self._seen: dict[int, UserSummary] = {}

    async def summary(self, user_id: int) -> UserSummary:
        seen = self._seen.get(user_id)
        if seen is not None:
            return seen
        await ensure_known(self._platform, [user_id])
        async with self._platform.pool.acquire() as conn:
            found = await users.summary(conn, user_id)
        return self.correct(found or UserSummary(id=Snowflake(user_id), username=UNKNOWN_AUTHOR))

    def correct(self, summary: UserSummary) -> UserSummary:
        """Remember ``summary`` as the author's current one (what a statement answered)."""
        if len(self._seen) >= self._limit:
            self._seen.clear()  # bounded memory; the cost is one lookup per author again
        self._seen[int(summary.id)] = summary
        return summary
