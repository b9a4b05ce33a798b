"""Who may see a file, and the presigned URL they are sent to.

Avatars and server icons are shown to anyone, without a token too (``/public/`` routes). An attachment is seen by its owner
until it is linked, and once linked to a message by whoever may read that message's channel
(asked of guilds, cached by ``AccessCache`` exactly as messages does). Anyone else gets the
same 404 as for a file that does not exist.
"""

from __future__ import annotations

from harmoniq_common.access import AccessCache
from harmoniq_common.errors import NotFound
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform

from ..settings import MediaSettings
from ..storage import Storage
from ..store import media as store
from ..store.rows import MediaRow

__all__ = ["PUBLIC_PURPOSES", "Serving"]

# Shown to anyone, without a token: what profiles and server lists show.
PUBLIC_PURPOSES = ("avatar", "icon")

_NOT_FOUND = "no such file"


def _servable(row: MediaRow) -> bool:
    return row.state == "ready" and row.released_at is None


class Serving:
    def __init__(
        self, platform: Platform, settings: MediaSettings, storage: Storage, access: AccessCache
    ) -> None:
        self._platform = platform
        self._settings = settings
        self._storage = storage
        self._access = access

    async def public(self, media_id: int) -> MediaRow:
        """An avatar or icon, for anyone (no token); anything else is 404 here."""
        row = await store.get(self._platform.pool, media_id)
        if row is None or not _servable(row) or row.purpose not in PUBLIC_PURPOSES:
            raise NotFound(_NOT_FOUND)
        return row

    async def visible(self, user_id: int | None, media_id: int) -> MediaRow:
        if user_id is None:
            return await self.public(media_id)
        row = await store.get(self._platform.pool, media_id)
        if row is None or not _servable(row):
            raise NotFound(_NOT_FOUND)
        if row.purpose != "attachment" or row.owner_id == user_id:
            return row
        if row.linked_kind == "message" and row.channel_id is not None:
            access = await self._access.channel(user_id, row.channel_id)
            if access.allows(Permission.VIEW_CHANNEL) and access.allows(
                Permission.READ_MESSAGE_HISTORY
            ):
                return row
        raise NotFound(_NOT_FOUND)

    async def url(self, user_id: int | None, media_id: int) -> str:
        row = await self.visible(user_id, media_id)
        self._storage.require()
        return await self._storage.presigned_get(
            row.object_key,
            filename=row.filename,
            content_type=row.content_type,
            disposition=row.disposition,
            expires=self._settings.presign_expiry_seconds,
        )

    async def thumbnail_url(self, user_id: int | None, media_id: int, size: int) -> str:
        row = await self.visible(user_id, media_id)
        thumb = next(
            (t for t in await store.thumbnails(self._platform.pool, media_id) if t.size == size),
            None,
        )
        if thumb is None:
            raise NotFound(f"no {size}px thumbnail for this file")
        stem = row.filename.rsplit(".", 1)[0] or "thumbnail"
        return await self._storage.presigned_get(
            thumb.object_key,
            filename=f"{stem}-{size}.webp",
            content_type="image/webp",
            disposition="inline",
            expires=self._settings.presign_expiry_seconds,
        )
