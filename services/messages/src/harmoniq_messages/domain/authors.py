"""The users projection: kept by auth's events, completed on demand by asking auth."""

from __future__ import annotations

import structlog

from harmoniq_common.consumers import request
from harmoniq_common.directory import USER_SUMMARIES, UserSummaries, UserSummariesRequest
from harmoniq_common.errors import ApiError
from harmoniq_common.events import UserCreated, UserDeleted, UserUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..store import users

__all__ = ["apply_user_event", "ensure_known"]

log = structlog.get_logger(__name__)


async def ensure_known(platform: Platform, user_ids: list[int]) -> None:
    """Make sure these users are in the projection before a message shows them.

    A user who posts right after registering can be ahead of auth's events; rather than show
    them as "unknown" in the message everybody receives, ask auth. If auth does not answer,
    the message is still accepted (the name fills in when the event arrives).
    """
    async with platform.pool.acquire() as conn:
        missing = [u for u in set(user_ids) if u not in await users.known_ids(conn, user_ids)]
    if not missing:
        return
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
        return
    async with platform.pool.acquire() as conn:
        for summary in answer.users:
            await users.upsert(conn, summary)


async def apply_user_event(tx: UnitOfWork, event: UserCreated | UserUpdated | UserDeleted) -> None:
    """Deleted users are anonymised on every message they wrote (their id stays, for
    moderation; their name and avatar go)."""
    if isinstance(event, UserDeleted):
        await users.mark_deleted(tx.conn, event.user_id)
    else:
        await users.upsert(tx.conn, event.user)
