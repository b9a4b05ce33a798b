"""Removing files for good: objects first, then their rows, inside the caller's transaction.

A store failure raises before the rows go, so the transaction rolls back and the rows stay
for a retry: a row is never deleted while its object stays. Deleting an object twice is
harmless, so retries after a partial run are safe.
"""

from __future__ import annotations

import asyncpg

from ..storage import Storage
from ..store import media as store
from ..store.rows import MediaRow

__all__ = ["purge"]


async def purge(conn: asyncpg.Connection, storage: Storage, rows: list[MediaRow]) -> None:
    for row in rows:
        thumbs = await store.thumbnails(conn, row.id)
        for key in [*(t.object_key for t in thumbs), row.object_key]:
            await storage.delete(key)
        await store.delete(conn, row.id)
