"""Heartbeats' Redis writes, gathered into batches (group commit).

Every heartbeat renews its session's resume record and presence expiry. One pipeline per
heartbeat made a thousand sockets whose heartbeats fell due together (they connected together)
queue one by one for the liveness pool's few connections; behind a delivery backlog the wait
passed the pool's timeout and healthy sockets were closed with 4000 (issue #15). Here a
heartbeat joins the batch being gathered while the previous one is on the wire, so a burst
costs a handful of round trips, and a failed write is logged and counted, never a closed
connection: the record and the presence outlive a few missed renewals by design.

A heartbeat still waits for its own renewal before its connection reads the next frame, so a
client's next acknowledgement still means the renewal before it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import structlog

from .metrics import RENEWAL_FAILURES
from .session import Session

__all__ = ["Renewals"]

log = structlog.get_logger(__name__)

WriteBatch = Callable[[list[Session]], Awaitable[None]]


class Renewals:
    def __init__(self, write: WriteBatch, batch_max: int = 500) -> None:
        self._write = write
        self._batch_max = batch_max
        self._due: dict[str, tuple[Session, asyncio.Future[None]]] = {}
        self._writing: dict[str, asyncio.Future[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-renewals")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for _, done in self._due.values():
            if not done.done():
                done.set_result(None)
        self._due.clear()

    async def renew(self, session: Session) -> None:
        """Returns once the session's renewal was written (or failed, which is logged)."""
        if self._task is None:  # not started (in-process tests of other parts): at once
            await self._write_logged([session])
            return
        pending = self._due.get(session.id)
        if pending is None:
            pending = (session, asyncio.get_running_loop().create_future())
            self._due[session.id] = pending
            self._wake.set()
        await asyncio.shield(pending[1])

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._due:
                batch = [self._due.pop(key) for key in list(self._due)[: self._batch_max]]
                self._writing = {s.id: done for s, done in batch}
                # A session closing meanwhile writes its final state itself (disconnected):
                # renewing it now could bring back the presence it is taking away.
                await self._write_logged([s for s, _ in batch if s.closing is None])
                self._writing = {}
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def settled(self, session: Session) -> None:
        """No renewal of the session is pending or on the wire (before its final write)."""
        pending = self._due.pop(session.id, None)
        if pending is not None and not pending[1].done():
            pending[1].set_result(None)
        writing = self._writing.get(session.id)
        if writing is not None:
            await asyncio.shield(writing)

    async def _write_logged(self, sessions: list[Session]) -> None:
        if not sessions:
            return
        try:
            await self._write(sessions)
        except Exception:
            RENEWAL_FAILURES.inc(len(sessions))
            log.warning("gateway.renewals_failed", sessions=len(sessions), exc_info=True)
