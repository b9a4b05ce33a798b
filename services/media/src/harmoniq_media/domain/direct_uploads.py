"""Direct uploads: the client sends the bytes to the store itself (a presigned POST), then asks
for them to be checked.

The row exists, ``pending``, from the request on: its declared size counts against the quota,
it is served to nobody and linked to nothing, and orphan cleanup removes it (and whatever
landed) if it is never completed.

The presigned POST stays valid until it expires, completed or not, so what the client can write
must never be what is served: it writes ``media/{id}/incoming``, and ``complete`` copies that
inside the store to ``media/{id}/original`` (a key no client can write) and checks the copy.
Bytes posted again after the check change nothing that is served; the sweep removes them.
Completions of one upload run one at a time (a Redis lock), so a second one cannot copy over
a file the first has just checked.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harmoniq_common.errors import ApiError, BadRequest, Conflict, NotFound, PayloadTooLarge
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform

from ..settings import MediaSettings
from ..storage import Storage, StorageDown
from ..store import media as store
from ..store.rows import MediaRow
from .filenames import clean_filename
from .purge import purge
from .sniff import IMAGE_TYPES, SNIFF_BYTES, normalise_declared, served_as, sniff
from .uploads import (
    IMAGE_ONLY,
    PURPOSES,
    UnsupportedType,
    Uploads,
    check_type,
    object_key,
)

__all__ = ["DirectUpload", "DirectUploads", "SizeMismatch", "incoming_key"]

_SPOOL_CHUNK = 1024 * 1024
# Longer than the slowest check (a 25 MB download and a large image's thumbnails); a holder
# that died frees it after this.
_COMPLETION_LOCK_SECONDS = 120


def incoming_key(media_id: int) -> str:
    """Where the presigned POST writes; never served."""
    return f"media/{media_id}/incoming"


class SizeMismatch(ApiError):
    status_code = 422
    code = "size_mismatch"
    default_message = "the file that landed is not the size that was declared"


@dataclass(frozen=True)
class DirectUpload:
    """A pending upload and the presigned POST the client sends its bytes with."""

    row: MediaRow
    url: str
    fields: dict[str, str]
    expires_at: datetime


class DirectUploads:
    def __init__(
        self, platform: Platform, settings: MediaSettings, storage: Storage, uploads: Uploads
    ) -> None:
        self._platform = platform
        self._settings = settings
        self._storage = storage
        self._uploads = uploads
        self._lock_prefix = f"{platform.subjects.namespace}:media:completing:"

    async def request(
        self, owner_id: int, *, purpose: str, filename: str, size: int, content_type: str
    ) -> DirectUpload:
        if purpose not in PURPOSES:
            raise BadRequest.for_field("purpose", f"purpose must be one of {', '.join(PURPOSES)}")
        if size > self._settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"the file is {size} bytes, over the limit of {self._settings.max_upload_bytes}",
                code="file_too_large",
            )
        declared = normalise_declared(content_type) or "application/octet-stream"
        if purpose in IMAGE_ONLY and declared not in IMAGE_TYPES:
            raise UnsupportedType(
                f"an {purpose} must be a PNG, JPEG, WebP or GIF image, not {declared}"
            )
        self._storage.require()
        media_id = self._platform.new_id()
        row = MediaRow(
            id=media_id,
            owner_id=Snowflake(owner_id),
            purpose=purpose,
            filename=clean_filename(filename),
            content_type=declared,  # what the client declared, until the bytes say
            disposition="attachment",
            size=size,
            width=None,
            height=None,
            object_key=object_key(media_id),
            state="pending",
            linked_kind=None,
            linked_to=None,
            channel_id=None,
            created_at=datetime.now(UTC),
        )
        await self._uploads.commit(row, [])
        expires = self._settings.direct_upload_expiry_seconds
        url, fields = await self._storage.presigned_post(
            incoming_key(media_id), size=size, content_type=declared, expires=expires
        )
        expires_at = datetime.now(UTC) + timedelta(seconds=expires)
        return DirectUpload(row=row, url=url, fields=fields, expires_at=expires_at)

    async def complete(self, owner_id: int, media_id: int) -> MediaRow:
        """Check what landed (size, then type by its first bytes), process an image as a
        streamed upload is, and make the file usable. A refusal removes the objects and the
        row. Completing a completed upload answers it again."""
        row = await self._own(owner_id, media_id)
        if row.state == "ready":
            return row
        self._storage.require()
        lock = self._platform.redis.lock(
            f"{self._lock_prefix}{media_id}", timeout=_COMPLETION_LOCK_SECONDS
        )
        if not await lock.acquire(blocking=False):
            raise Conflict(
                f"upload {media_id} is being completed by another request: try again shortly",
                code="upload_completing",
                headers={"Retry-After": "1"},
            )
        try:
            row = await self._own(owner_id, media_id)  # it may have completed before the lock
            if row.state == "ready":
                return row
            return await self._check(row)
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: nothing left to free
                await lock.release()

    async def _own(self, owner_id: int, media_id: int) -> MediaRow:
        row = await store.get(self._platform.pool, media_id)
        if row is None or row.owner_id != owner_id or row.released_at is not None:
            raise NotFound(f"no upload {media_id}")
        return row

    async def _check(self, row: MediaRow) -> MediaRow:
        landed = await self._storage.size_of(incoming_key(row.id))
        if landed is None:
            raise Conflict(
                f"nothing was uploaded for {row.id} yet: POST the file first",
                code="upload_missing",
            )
        written = [row.object_key]
        try:
            await self._storage.copy(incoming_key(row.id), row.object_key)
            done = await self._process(row, written)
        except StorageDown:
            raise  # not a refusal: the upload stays pending for a retry
        except ApiError:
            await self._discard(row, written)
            raise
        with contextlib.suppress(Exception):  # the sweep removes it otherwise
            await self._storage.delete(incoming_key(row.id))
        if done is None:
            raise NotFound(f"no upload {row.id}")  # removed meanwhile (its owner was deleted)
        return done

    async def _process(self, row: MediaRow, written: list[str]) -> MediaRow | None:
        """Check the copy no client can write, thumbnail it, and mark the row ready."""
        landed = await self._storage.size_of(row.object_key)
        if landed != row.size:
            raise SizeMismatch(f"{row.size} bytes were declared but {landed} arrived")
        kind = sniff(await self._storage.read_head(row.object_key, SNIFF_BYTES))
        check_type(row.purpose, row.content_type, kind)
        content_type, disposition = served_as(kind, row.filename)
        with tempfile.TemporaryDirectory(prefix="harmoniq-media-") as workdir:
            processed = None
            if kind.content_type in IMAGE_TYPES:
                spool_path = Path(workdir) / "upload"
                with spool_path.open("wb") as spool:
                    await self._storage.download(row.object_key, spool, _SPOOL_CHUNK)
                processed = await self._uploads.process(spool_path, kind, Path(workdir))
            thumbs = await self._uploads.store_derived(row.id, processed, content_type, written)
        async with self._platform.pool.acquire() as conn, conn.transaction():
            return await store.mark_ready(
                conn,
                row.id,
                content_type=content_type,
                disposition=disposition,
                width=processed.width if processed else None,
                height=processed.height if processed else None,
                thumbs=thumbs,
            )

    async def _discard(self, row: MediaRow, written: list[str]) -> None:
        """A refused direct upload: its thumbnails, its objects, then its row."""
        for key in [*written, incoming_key(row.id)]:
            with contextlib.suppress(Exception):
                await self._storage.delete(key)
        async with self._platform.pool.acquire() as conn, conn.transaction():
            pending = await store.lock_pending(conn, row.id)
            if pending is not None:
                await purge(conn, self._storage, [pending])
