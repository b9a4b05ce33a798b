"""Keeps Redis's revocation state complete: the marks and bot digests every service checks.

Postgres is the record (``users.tokens_revoked_before``, revoked sessions, bot token digests);
Redis is the fast copy every request reads. Redis may come back empty (compose runs it without
persistence), and an absent mark reads like "not revoked", so the copy carries a state key
(:class:`~harmoniq_common.auth.RevocationMarks`) and readers refuse without it. Every auth
instance watches that key and rewrites the whole copy when it is gone: at start-up, and within
about ``interval`` seconds of Redis losing it. Several instances may restore at once: the
writes are idempotent (marks only move forward) and the digest lock orders them with resets.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from harmoniq_common.platform import Platform

from ..store import bots as bot_store
from .bots import Bots
from .sessions import Sessions

__all__ = ["RevocationState"]

log = structlog.get_logger(__name__)


class RevocationState:
    def __init__(
        self, platform: Platform, sessions: Sessions, bots: Bots, *, interval: float
    ) -> None:
        self._platform = platform
        self._sessions = sessions
        self._bots = bots
        self._interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def restore(self) -> bool:
        """Rewrite every mark and digest from Postgres; whether Redis kept all of it."""
        marks = self._platform.marks
        token = await marks.begin_restore()
        async with self._platform.pool.acquire() as conn, conn.transaction():
            await bot_store.lock_tokens_exclusive(conn)
            revoked = await self._sessions.restore_marks(conn)
            live_bots = await self._bots.restore_tokens(conn)
        complete = await marks.finish_restore(token)
        log.info("auth.revocation_state_restored", marks=revoked, bots=live_bots, kept=complete)
        return complete

    async def start(self) -> None:
        """Restore now (so this instance starts complete), then watch in the background."""
        while not await self.restore():  # Redis restarted again mid-way: once more
            continue
        self._task = asyncio.create_task(self._watch(), name="revocation-state")

    async def stop(self) -> None:
        self._stopping.set()  # not cancel(): a cancellation can be swallowed inside a Redis call
        if self._task is not None:
            await self._task

    async def _watch(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval)
                return
            try:
                if not await self._platform.marks.complete():
                    log.warning("auth.revocation_state_missing")
                    await self.restore()
            except Exception:  # Redis or Postgres away: readers fail closed meanwhile
                log.warning("auth.revocation_state_check_failed", exc_info=True)
