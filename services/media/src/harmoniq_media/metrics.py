"""media's own Prometheus gauges (served at ``/metrics`` with the HTTP ones): what the store
holds, sampled from the table (one indexed aggregate) on the common sampling interval."""

from __future__ import annotations

import asyncio

import asyncpg
import structlog
from prometheus_client import Gauge

__all__ = ["STORED_BYTES", "STORED_FILES", "sample_storage_forever"]

log = structlog.get_logger(__name__)

STORED_BYTES = Gauge(
    "harmoniq_media_stored_bytes", "Bytes of uploaded files kept (originals, not thumbnails)"
)
STORED_FILES = Gauge("harmoniq_media_stored_files", "Uploaded files kept, pending ones included")


async def sample_storage_forever(pool: asyncpg.Pool, interval: float) -> None:
    while True:
        try:
            files, size = await pool.fetchrow(
                "SELECT count(*), coalesce(sum(size), 0) FROM media", timeout=5
            )
            STORED_FILES.set(files)
            STORED_BYTES.set(size)
        except Exception:  # the database is down: the dependency gauge says so
            log.debug("media.storage_sample_failed", exc_info=True)
        await asyncio.sleep(interval)
