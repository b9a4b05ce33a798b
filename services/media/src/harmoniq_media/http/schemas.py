"""What the media routes answer."""

from __future__ import annotations

import msgspec

from harmoniq_common.ids import Snowflake

__all__ = ["MediaOut", "ThumbnailOut"]


class ThumbnailOut(msgspec.Struct, frozen=True, kw_only=True):
    size: int
    width: int
    height: int
    url: str


class MediaOut(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    purpose: str
    filename: str
    content_type: str
    size: int
    width: int | None = None
    height: int | None = None
    # The service's own URLs: each answers 302 to a presigned store URL for who may see it.
    url: str
    thumbnails: list[ThumbnailOut] = []
