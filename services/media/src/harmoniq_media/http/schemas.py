"""What the media routes answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from harmoniq_common.ids import Snowflake
from harmoniq_common.media import Attachment
from harmoniq_common.validation import SingleLine

__all__ = ["DirectUploadIn", "DirectUploadOut", "MediaOut", "PresignedPost"]


class MediaOut(Attachment, frozen=True, kw_only=True):
    """The media object the routes answer: what others are shown, and its purpose. Its urls
    are the service's own; each answers 302 to a presigned store URL for who may see it."""

    purpose: str


class DirectUploadIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A file the client will send to the store itself."""

    filename: Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=1024)]
    # Bytes; over max_upload_bytes is a 413 before anything is signed.
    size: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    content_type: Annotated[SingleLine, msgspec.Meta(min_length=1, max_length=255)]
    purpose: Literal["attachment", "avatar", "icon"] = "attachment"


class PresignedPost(msgspec.Struct, frozen=True, kw_only=True):
    # multipart/form-data POST to ``url``: every field as given, then ``file`` last.
    url: str
    fields: dict[str, str]


class DirectUploadOut(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    upload: PresignedPost
    expires_at: datetime
