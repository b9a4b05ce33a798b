"""Uploads through the service: bytes streamed to the store, checked on the way, then a row.

The order makes every failure leave nothing usable behind: the object (and its thumbnails) is
written first and the row last, in a transaction that re-checks the owner's quota; any refusal
or error before the commit deletes what was written. A crash between the two leaves objects
without a row, which the orphan sweep removes (``cleanup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from harmoniq_common.errors import ApiError, BadRequest, PayloadTooLarge
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform

from ..settings import MediaSettings
from ..storage import ObjectWriter, Storage
from ..store import media as store
from ..store.rows import MediaRow, ThumbnailRow
from .filenames import clean_filename
from .images import Processed, process_image
from .sniff import (
    IMAGE_TYPES,
    SNIFF_BYTES,
    Kind,
    contradicts,
    served_as,
    sniff,
)

__all__ = [
    "IMAGE_ONLY",
    "PURPOSES",
    "FileUpload",
    "UnsupportedType",
    "Uploads",
    "check_type",
    "object_key",
    "thumbnail_key",
]

PURPOSES = ("avatar", "icon", "attachment")
IMAGE_ONLY = {"avatar", "icon"}


class UnsupportedType(ApiError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = "this type of file is not accepted here"


def object_key(media_id: int) -> str:
    return f"media/{media_id}/original"


def thumbnail_key(media_id: int, size: int) -> str:
    return f"media/{media_id}/thumb-{size}.webp"


@dataclass
class FileUpload:
    """One file as the client sends it: its claimed name and type, and its bytes."""

    filename: str | None
    declared_type: str | None
    chunks: AsyncIterator[bytes]


class Uploads:
    def __init__(self, platform: Platform, settings: MediaSettings, storage: Storage) -> None:
        self._platform = platform
        self._settings = settings
        self._storage = storage
        self._image_slots = asyncio.Semaphore(settings.thumbnail_concurrency)

    async def check_quota(self, owner_id: int, incoming: int) -> None:
        """Refuse early when ``incoming`` bytes cannot fit in the owner's quota."""
        used = await store.used_bytes(self._platform.pool, owner_id)
        if used + incoming > self._settings.user_quota_bytes:
            raise quota_exceeded(used, self._settings.user_quota_bytes)

    async def thumbnails(self, media_id: int) -> list[ThumbnailRow]:
        return await store.thumbnails(self._platform.pool, media_id)

    async def upload(self, owner_id: int, purpose: str, file: FileUpload) -> MediaRow:
        if purpose not in PURPOSES:
            raise BadRequest.for_field("purpose", f"purpose must be one of {', '.join(PURPOSES)}")
        self._storage.require()
        head, rest = await _head(file.chunks, SNIFF_BYTES)
        if not head:
            raise BadRequest.for_field("file", "the file is empty")
        kind = sniff(head)
        check_type(purpose, file.declared_type, kind)
        filename = clean_filename(file.filename)
        content_type, disposition = served_as(kind, filename)
        media_id = self._platform.new_id()
        writer = self._storage.writer(
            object_key(media_id), content_type, self._settings.s3_part_bytes
        )
        written = [writer.key]
        try:
            with tempfile.TemporaryDirectory(prefix="harmoniq-media-") as workdir:
                processed = await self._store_bytes(writer, head, rest, kind, Path(workdir))
                thumbs = await self.store_derived(media_id, processed, content_type, written)
                row = MediaRow(
                    id=media_id,
                    owner_id=Snowflake(owner_id),
                    purpose=purpose,
                    filename=filename,
                    content_type=content_type,
                    disposition=disposition,
                    size=writer.size,
                    width=processed.width if processed else None,
                    height=processed.height if processed else None,
                    object_key=writer.key,
                    state="ready",
                    linked_kind=None,
                    linked_to=None,
                    channel_id=None,
                    created_at=datetime.now(UTC),
                )
                await self.commit(row, thumbs)
                return row
        except BaseException:
            await writer.abort()
            for key in written[1:]:
                with contextlib.suppress(Exception):
                    await self._storage.delete(key)
            raise

    async def _store_bytes(
        self,
        writer: ObjectWriter,
        head: bytes,
        rest: AsyncIterator[bytes],
        kind: Kind,
        workdir: Path,
    ) -> Processed | None:
        """Stream the file to the store (and, for an image, to a local spool for decoding)."""
        image = kind.content_type in IMAGE_TYPES
        spool_path = workdir / "upload"
        with contextlib.ExitStack() as files:
            spool: IO[bytes] | None = files.enter_context(spool_path.open("wb")) if image else None
            await _write(writer, spool, head)
            async for chunk in rest:
                await _write(writer, spool, chunk)
        await writer.finish()
        if not image:
            return None
        return await self.process(spool_path, kind, workdir)

    async def process(self, spool_path: Path, kind: Kind, workdir: Path) -> Processed:
        """Measure, check and thumbnail an image on disk, a bounded number at a time."""
        async with self._image_slots:
            return await asyncio.to_thread(
                process_image,
                spool_path,
                kind.content_type,
                sizes=self._settings.thumbnail_sizes,
                max_pixels=self._settings.max_image_pixels,
                workdir=workdir,
            )

    async def store_derived(
        self,
        media_id: Snowflake,
        processed: Processed | None,
        content_type: str,
        written: list[str],
    ) -> list[ThumbnailRow]:
        """The metadata-free copy over the original, and the thumbnails beside it."""
        if processed is None:
            return []
        if processed.stripped is not None:
            with processed.stripped.open("rb") as body:
                await self._storage.put_file(object_key(media_id), body, content_type)
        thumbs = []
        for thumb in processed.thumbnails:
            key = thumbnail_key(media_id, thumb.size)
            written.append(key)
            with thumb.path.open("rb") as body:
                await self._storage.put_file(key, body, "image/webp")
            thumbs.append(
                ThumbnailRow(
                    media_id=media_id,
                    size=thumb.size,
                    width=thumb.width,
                    height=thumb.height,
                    object_key=key,
                )
            )
        return thumbs

    async def commit(self, row: MediaRow, thumbs: list[ThumbnailRow]) -> None:
        async with self._platform.pool.acquire() as conn, conn.transaction():
            await store.lock_owner(conn, row.owner_id)
            used = await store.used_bytes(conn, row.owner_id)
            if used + row.size > self._settings.user_quota_bytes:
                raise quota_exceeded(used, self._settings.user_quota_bytes)
            await store.insert(conn, row, thumbs)


async def _write(writer: ObjectWriter, spool: IO[bytes] | None, chunk: bytes) -> None:
    await writer.write(chunk)
    if spool is not None:
        spool.write(chunk)  # a local file; the OS buffers it


async def _head(chunks: AsyncIterator[bytes], size: int) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first ``size`` bytes (fewer if the file is shorter) and an iterator of the rest."""
    head = bytearray()
    async for chunk in chunks:
        head += chunk
        if len(head) >= size:
            break
    return bytes(head), chunks


def check_type(purpose: str, declared: str | None, kind: Kind) -> None:
    if contradicts(declared, kind):
        raise UnsupportedType(
            f"the file was declared as {declared} but its bytes are {kind.content_type}",
            code="type_mismatch",
        )
    if purpose in IMAGE_ONLY and kind.content_type not in IMAGE_TYPES:
        raise UnsupportedType(
            f"an {purpose} must be a PNG, JPEG, WebP or GIF image, not {kind.content_type}"
        )


def quota_exceeded(used: int, quota: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"your uploads use {used} of your {quota} bytes: this file does not fit; delete some",
        code="quota_exceeded",
    )
