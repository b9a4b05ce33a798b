"""Rows of the media schema as the domain reads them."""

from __future__ import annotations

from datetime import datetime

import msgspec

from harmoniq_common.ids import Snowflake

__all__ = ["MediaRow", "ThumbnailRow"]


class ThumbnailRow(msgspec.Struct, frozen=True, kw_only=True):
    media_id: Snowflake
    size: int
    width: int
    height: int
    object_key: str


class MediaRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    owner_id: Snowflake
    purpose: str
    filename: str
    content_type: str
    disposition: str
    size: int
    width: int | None
    height: int | None
    object_key: str
    state: str
    linked_kind: str | None
    linked_to: Snowflake | None
    channel_id: Snowflake | None
    created_at: datetime
    server_id: Snowflake | None = None
    linked_at: datetime | None = None
    link_confirmed: bool = True
    released_at: datetime | None = None
