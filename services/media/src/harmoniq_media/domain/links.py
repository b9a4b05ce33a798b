"""Linking uploads to what uses them, and releasing them when it goes.

A link is asked by the service that owns the target (see :mod:`harmoniq_common.media`): the
files must be the owner's ready uploads of the target's purpose, not linked elsewhere. Linking
the same files to the same target again answers the same (the asking service may retry, or
fail to commit after linking and retry with the same target). A user's avatar and a server's
icon are one file: linking a new one releases the previous. Releasing marks the rows released
(served to nobody, never linked again) and then deletes the objects and the rows
(:func:`.purge.purge`); if the store fails, the cleanup job's next run deletes them.
Everything here is idempotent, so redelivered deletion events are harmless.
"""

from __future__ import annotations

import asyncpg
import structlog

from harmoniq_common.errors import BadRequest, Conflict
from harmoniq_common.media import (
    MEDIA_BASE_PATH,
    PUBLIC_MEDIA_PATH,
    Attachment,
    AttachmentThumbnail,
    LinkRequest,
)

from ..storage import Storage
from ..store import media as store
from ..store.rows import MediaRow, ThumbnailRow
from .purge import purge
from .serving import PUBLIC_PURPOSES

__all__ = ["BASE_URL", "Links", "attachment"]

log = structlog.get_logger(__name__)

BASE_URL = MEDIA_BASE_PATH
PURPOSE_OF = {"message": "attachment", "user": "avatar", "server": "icon", "webhook": "avatar"}
_BATCH = 100


def attachment(
    row: MediaRow, thumbs: list[ThumbnailRow], *, public_routes: bool = True
) -> Attachment:
    """The file as others show it. Linked avatars and icons point at their public routes
    (shown without a token); ``public_routes=False`` gives the owner's routes always."""
    public = public_routes and row.purpose in PUBLIC_PURPOSES
    base = PUBLIC_MEDIA_PATH if public else BASE_URL
    return Attachment(
        id=row.id,
        filename=row.filename,
        size=row.size,
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        url=f"{base}/{row.id}",
        thumbnails=[
            AttachmentThumbnail(
                size=t.size, width=t.width, height=t.height,
                url=f"{base}/{row.id}/thumbnails/{t.size}",
            )
            for t in thumbs
        ],
    )  # fmt: skip


def _refuse(question: LinkRequest, rows: dict[int, MediaRow]) -> None:
    """Raise the first reason these files cannot be linked to this target."""
    if len(set(question.media_ids)) != len(question.media_ids):
        raise BadRequest("a file is listed twice", code="duplicate_media")
    purpose = PURPOSE_OF[question.kind]
    for media_id in question.media_ids:
        row = rows.get(media_id)
        if row is None or row.owner_id != question.owner_id or row.released_at is not None:
            # The same answer for someone else's file as for no file: ids are not probed.
            raise BadRequest(f"no upload of yours has the id {media_id}", code="unknown_media")
        if row.state != "ready":
            raise Conflict(f"the upload {media_id} is not complete yet", code="media_not_ready")
        if row.purpose != purpose:
            raise BadRequest(
                f"the upload {media_id} was made as an {row.purpose}, not an {purpose}",
                code="wrong_media_purpose",
            )
        if row.linked_to is not None and (row.linked_kind, row.linked_to) != (
            question.kind,
            question.target_id,
        ):
            raise Conflict(f"the upload {media_id} is already in use", code="media_already_linked")


class Links:
    def __init__(self, pool: asyncpg.Pool, storage: Storage) -> None:
        self._pool = pool
        self._storage = storage

    async def link(self, question: LinkRequest) -> list[Attachment]:
        async with self._pool.acquire() as conn, conn.transaction():
            found = await store.lock_many(conn, list(question.media_ids))
            rows = {int(r.id): r for r in found}
            _refuse(question, rows)
            replaced: list[MediaRow] = []
            if question.kind != "message":  # one avatar per user or webhook, one icon per server
                current = await store.lock_linked(
                    conn, kind=question.kind, target_id=question.target_id
                )
                replaced = [r for r in current if r.id not in question.media_ids]
            await store.link(
                conn,
                list(question.media_ids),
                kind=question.kind,
                target_id=question.target_id,
                channel_id=question.channel_id,
                server_id=question.server_id,
            )
            if replaced:
                await store.mark_released(conn, [r.id for r in replaced])
            thumbs = await store.thumbnails_of(conn, list(question.media_ids))
        await self._purge_released([r.id for r in replaced])
        by_media: dict[int, list[ThumbnailRow]] = {}
        for thumb in thumbs:
            by_media.setdefault(int(thumb.media_id), []).append(thumb)
        return [attachment(rows[m], by_media.get(m, [])) for m in question.media_ids]

    async def _purge_released(self, ids: list[int]) -> None:
        if not ids:
            return
        try:
            self._storage.require()
            async with self._pool.acquire() as conn, conn.transaction():
                await purge(conn, self._storage, await store.lock_released(conn, ids))
        except Exception:  # the store down or refusing: the next cleanup run retries
            log.warning("media.release_deferred", count=len(ids), exc_info=True)

    async def unlink(self, kind: str, target_id: int) -> int:
        """The files of a target that was never stored go back to their owner, unlinked."""
        async with self._pool.acquire() as conn:
            return await store.unlink(conn, kind, target_id)

    async def release(
        self,
        *,
        kind: str | None = None,
        target_id: int | None = None,
        channel_id: int | None = None,
        server_id: int | None = None,
    ) -> int:
        """Release every file linked to a target (or a channel's or a server's), in batches:
        marked released (served to nobody) in one transaction, then deleted; what the store
        refuses now is deleted by the next cleanup run, so a release never waits on it."""
        released = 0
        while True:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await store.lock_linked(
                    conn,
                    kind=kind,
                    target_id=target_id,
                    channel_id=channel_id,
                    server_id=server_id,
                    limit=_BATCH,
                )
                await store.mark_released(conn, [r.id for r in rows])
            await self._purge_released([r.id for r in rows])
            released += len(rows)
            if len(rows) < _BATCH:
                break
        if released:
            log.info("media.released", kind=kind, target_id=target_id, count=released)
        return released
