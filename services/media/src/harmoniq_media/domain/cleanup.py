"""Orphans: uploads never linked within ``orphan_age_seconds``, and objects without a row.

Safe on every instance at once: rows are taken with ``FOR UPDATE SKIP LOCKED`` (two instances
never pick the same one), objects are deleted before their row in the same transaction (a
store failure rolls back, so the row stays and the next run retries: a row never goes while
its object stays), and deleting an object twice is harmless. An object is swept only when it
is older than the orphan age and no row names it, so an upload still in flight (objects
written, row not yet) is never touched; a direct upload's ``incoming`` object (what the client
posted, never served: ``direct_uploads``) goes once it is that old, whatever its row. ``now`` is injectable for tests with a moved clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects

from ..settings import MediaSettings
from ..storage import Storage
from ..store import media as store
from .confirmations import Confirmations
from .purge import purge

__all__ = ["Cleanup", "run_cleanup"]

log = structlog.get_logger(__name__)
_BATCH = 100


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Cleanup:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: MediaSettings,
        storage: Storage,
        nats: NatsClient,
        subjects: Subjects,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._storage = storage
        self._now = now
        self.confirmations = Confirmations(pool, nats, subjects, settings, now)

    def _cutoff(self) -> datetime:
        return self._now() - timedelta(seconds=self._settings.orphan_age_seconds)

    async def run_once(self) -> tuple[int, int]:
        """(orphan uploads removed, row-less objects swept), after settling messages' links
        (:mod:`.confirmations`): files of messages that never committed go back first."""
        await self.confirmations.settle()
        return await self.remove_unlinked(), await self.sweep_objects()

    async def remove_unlinked(self) -> int:
        removed = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await store.unlinked_before(conn, self._cutoff(), _BATCH)
                await purge(conn, self._storage, rows)
            removed += len(rows)
            if len(rows) < _BATCH:
                return removed

    async def sweep_objects(self) -> int:
        cutoff = self._cutoff()
        stale: dict[int, list[str]] = {}
        async for key, modified in self._storage.listing("media/"):
            parts = key.split("/")
            if len(parts) == 3 and parts[1].isdigit() and modified < cutoff:
                stale.setdefault(int(parts[1]), []).append(key)
        # What a client posted to a direct upload's key is never served (the checked copy
        # is), so once its presigned POST is long dead it goes, whatever its row says.
        dead_incoming = [k for keys in stale.values() for k in keys if k.endswith("/incoming")]
        if not stale:
            return 0
        known = await store.existing_ids(self._pool, list(stale))
        doomed = {k for media_id, keys in stale.items() if media_id not in known for k in keys}
        doomed.update(dead_incoming)
        for key in doomed:
            await self._storage.delete(key)
        return len(doomed)


async def run_cleanup(cleanup: Cleanup, interval: float) -> None:
    """The job's loop: every ``interval`` seconds, on every instance."""
    while True:
        try:
            removed, swept = await cleanup.run_once()
            if removed or swept:
                log.info("media.cleanup", orphans=removed, objects=swept)
        except Exception:
            log.warning("media.cleanup_failed", exc_info=True)
        await asyncio.sleep(interval)
