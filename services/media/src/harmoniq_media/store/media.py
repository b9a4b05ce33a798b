"""SQL of the ``media`` and ``thumbnails`` tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TypeAlias

import asyncpg

from harmoniq_common.db import record_or_none, records_to
from harmoniq_common.stored_messages import StoredMessage

from .rows import MediaRow, ThumbnailRow

__all__ = [
    "confirm",
    "delete",
    "existing_ids",
    "get",
    "insert",
    "link",
    "lock_linked",
    "lock_many",
    "lock_owner",
    "lock_pending",
    "lock_released",
    "mark_ready",
    "mark_released",
    "thumbnails",
    "thumbnails_of",
    "unconfirmed_messages",
    "unlink",
    "unlink_unconfirmed",
    "unlinked_before",
    "used_bytes",
]

Executor: TypeAlias = "asyncpg.Connection | asyncpg.Pool"


async def lock_owner(conn: asyncpg.Connection, owner_id: int) -> None:
    """Serialise one owner's uploads for the quota check, until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('media.quota'), $1::int)", owner_id % 2**31
    )


async def used_bytes(db: Executor, owner_id: int) -> int:
    used: int = await db.fetchval(
        "SELECT coalesce(sum(size), 0)::bigint FROM media WHERE owner_id = $1", owner_id
    )
    return used


async def insert(conn: asyncpg.Connection, row: MediaRow, thumbs: Iterable[ThumbnailRow]) -> None:
    await conn.execute(
        """INSERT INTO media (id, owner_id, purpose, filename, content_type, disposition, size,
                              width, height, object_key, state, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
        row.id, row.owner_id, row.purpose, row.filename, row.content_type, row.disposition,
        row.size, row.width, row.height, row.object_key, row.state, row.created_at,
    )  # fmt: skip
    await conn.executemany(
        """INSERT INTO thumbnails (media_id, size, width, height, object_key)
           VALUES ($1, $2, $3, $4, $5)""",
        [(t.media_id, t.size, t.width, t.height, t.object_key) for t in thumbs],
    )


async def get(db: Executor, media_id: int) -> MediaRow | None:
    return record_or_none(
        MediaRow, await db.fetchrow("SELECT * FROM media WHERE id = $1", media_id)
    )


async def thumbnails(db: Executor, media_id: int) -> list[ThumbnailRow]:
    rows = await db.fetch("SELECT * FROM thumbnails WHERE media_id = $1 ORDER BY size", media_id)
    return records_to(ThumbnailRow, rows)


async def unlinked_before(conn: asyncpg.Connection, cutoff: datetime, limit: int) -> list[MediaRow]:
    """Orphans, locked for this transaction; rows another instance holds are skipped."""
    rows = await conn.fetch(
        """SELECT * FROM media
           WHERE linked_to IS NULL AND (created_at < $1 OR released_at IS NOT NULL)
           ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
        cutoff,
        limit,
    )
    return records_to(MediaRow, rows)


async def delete(conn: asyncpg.Connection, media_id: int) -> None:
    await conn.execute("DELETE FROM media WHERE id = $1", media_id)


async def existing_ids(db: Executor, ids: list[int]) -> set[int]:
    rows = await db.fetch("SELECT id FROM media WHERE id = ANY($1::bigint[])", ids)
    return {row["id"] for row in rows}


async def lock_many(conn: asyncpg.Connection, ids: list[int]) -> list[MediaRow]:
    """The rows of ``ids`` that exist, locked until the transaction ends (in id order, so two
    links of overlapping files cannot deadlock)."""
    rows = await conn.fetch(
        "SELECT * FROM media WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", ids
    )
    return records_to(MediaRow, rows)


async def lock_linked(
    conn: asyncpg.Connection,
    *,
    kind: str | None = None,
    target_id: int | None = None,
    channel_id: int | None = None,
    server_id: int | None = None,
    limit: int = 100,
) -> list[MediaRow]:
    """Files linked to one target, or to any message of a channel, or of a server (its own
    icon included), locked; rows another transaction holds are skipped (it is releasing or
    linking them). One condition per query, so each uses its own index."""
    if kind is not None:
        where, args = "linked_kind = $1 AND linked_to = $2", [kind, target_id]
    elif channel_id is not None:
        where, args = "channel_id = $1", [channel_id]
    elif server_id is not None:
        where, args = "server_id = $1 OR (linked_kind = 'server' AND linked_to = $1)", [server_id]
    else:
        raise ValueError("say what the files are linked to")
    rows = await conn.fetch(
        f"SELECT * FROM media WHERE {where} ORDER BY id LIMIT {int(limit)} FOR UPDATE SKIP LOCKED",
        *args,
    )
    return records_to(MediaRow, rows)


async def link(
    conn: asyncpg.Connection,
    ids: list[int],
    *,
    kind: str,
    target_id: int,
    channel_id: int | None,
    server_id: int | None,
) -> None:
    """A message's link waits for the cleanup to find its message stored (``confirm``); a
    retried link to the same target keeps what it was."""
    await conn.execute(
        """UPDATE media SET
               link_confirmed = CASE WHEN linked_kind = $2 AND linked_to = $3
                                     THEN link_confirmed ELSE $2 <> 'message' END,
               linked_at = CASE WHEN linked_kind = $2 AND linked_to = $3
                                THEN linked_at ELSE now() END,
               linked_kind = $2, linked_to = $3, channel_id = $4, server_id = $5
           WHERE id = ANY($1::bigint[])""",
        ids, kind, target_id, channel_id, server_id,
    )  # fmt: skip


async def confirm(conn: asyncpg.Connection, stored: Sequence[StoredMessage]) -> int:
    """These messages committed: their files' links are final, with the channel and server
    messages stored. Only the author's own files: a link is made for the sender's uploads."""
    status = await conn.execute(
        """UPDATE media SET link_confirmed = true, channel_id = s.channel_id,
                            server_id = s.server_id
           FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[])
                AS s(message_id, channel_id, server_id, author_id)
           WHERE NOT media.link_confirmed AND media.linked_kind = 'message'
             AND media.linked_to = s.message_id AND media.owner_id = s.author_id""",
        [m.id for m in stored], [m.channel_id for m in stored],
        [m.server_id for m in stored], [m.author_id for m in stored],
    )  # fmt: skip
    return int(status.split()[-1])


async def mark_released(conn: asyncpg.Connection, ids: list[int]) -> None:
    await conn.execute(
        """UPDATE media SET linked_kind = NULL, linked_to = NULL, channel_id = NULL,
                            server_id = NULL, link_confirmed = true, released_at = now()
           WHERE id = ANY($1::bigint[])""",
        ids,
    )


async def lock_released(conn: asyncpg.Connection, ids: list[int]) -> list[MediaRow]:
    rows = await conn.fetch(
        """SELECT * FROM media WHERE id = ANY($1::bigint[]) AND released_at IS NOT NULL
           ORDER BY id FOR UPDATE SKIP LOCKED""",
        ids,
    )
    return records_to(MediaRow, rows)


async def unconfirmed_messages(db: Executor, cutoff: datetime, limit: int) -> list[int]:
    """Messages whose files were linked before ``cutoff`` and are still unconfirmed."""
    rows = await db.fetch(
        """SELECT DISTINCT linked_to FROM media
           WHERE NOT link_confirmed AND linked_kind = 'message' AND linked_at < $1
           LIMIT $2""",
        cutoff,
        limit,
    )
    return [int(r["linked_to"]) for r in rows]


async def unlink_unconfirmed(
    conn: asyncpg.Connection, message_ids: list[int], cutoff: datetime
) -> int:
    """The files of these messages still unconfirmed (linked before ``cutoff``) go back to
    their owner as unlinked uploads."""
    status = await conn.execute(
        """UPDATE media SET linked_kind = NULL, linked_to = NULL, channel_id = NULL,
                            server_id = NULL, linked_at = NULL, link_confirmed = true
           WHERE NOT link_confirmed AND linked_kind = 'message'
             AND linked_to = ANY($1::bigint[]) AND linked_at < $2""",
        message_ids,
        cutoff,
    )
    return int(status.split()[-1])


async def unlink(conn: asyncpg.Connection, kind: str, target_id: int) -> int:
    status = await conn.execute(
        """UPDATE media SET linked_kind = NULL, linked_to = NULL, channel_id = NULL,
                            server_id = NULL, linked_at = NULL, link_confirmed = true
           WHERE linked_kind = $1 AND linked_to = $2""",
        kind,
        target_id,
    )
    return int(status.split()[-1])


async def thumbnails_of(db: Executor, ids: list[int]) -> list[ThumbnailRow]:
    rows = await db.fetch(
        "SELECT * FROM thumbnails WHERE media_id = ANY($1::bigint[]) ORDER BY media_id, size", ids
    )
    return records_to(ThumbnailRow, rows)


async def lock_pending(conn: asyncpg.Connection, media_id: int) -> MediaRow | None:
    """A direct upload not completed yet, locked until the transaction ends."""
    return record_or_none(
        MediaRow,
        await conn.fetchrow(
            "SELECT * FROM media WHERE id = $1 AND state = 'pending' FOR UPDATE", media_id
        ),
    )


async def mark_ready(
    conn: asyncpg.Connection,
    media_id: int,
    *,
    content_type: str,
    disposition: str,
    width: int | None,
    height: int | None,
    thumbs: Iterable[ThumbnailRow],
) -> MediaRow | None:
    """A pending upload checked: its type as served, its size in pixels and its thumbnails.
    None when it was not pending (completed meanwhile, or gone)."""
    record = await conn.fetchrow(
        """UPDATE media SET state = 'ready', content_type = $2, disposition = $3, width = $4,
                            height = $5
           WHERE id = $1 AND state = 'pending' RETURNING *""",
        media_id, content_type, disposition, width, height,
    )  # fmt: skip
    if record is None:
        return None
    await conn.executemany(
        """INSERT INTO thumbnails (media_id, size, width, height, object_key)
           VALUES ($1, $2, $3, $4, $5)""",
        [(t.media_id, t.size, t.width, t.height, t.object_key) for t in thumbs],
    )
    return record_or_none(MediaRow, record)
