"""Files, asked of the media service: link uploads to what uses them, and what they look like.

media owns the files; a service that attaches one (messages: a message's attachments; auth: a
user's avatar; guilds: a server's icon) asks media over NATS request/reply (:data:`MEDIA_LINK`)
to link the caller's uploads to its target and gets back each file's metadata to show. The
link is idempotent on its target (a retried link of the same ids to the same target answers
the same), and a user's or a server's link replaces the previous avatar or icon (released:
its objects are deleted). Files linked to messages, channels and servers are released when
media sees their deletion events (see docs/decisions.md, "Files go with their deletion
events"); :data:`MEDIA_RELEASE` is for a caller that must undo a link it will not use (its
target was not stored): the files become the owner's unlinked uploads again, usable in a
retry (and removed by orphan cleanup if never linked).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from .ids import Snowflake

__all__ = [
    "MAX_ATTACHMENTS",
    "MEDIA_BASE_PATH",
    "MEDIA_LINK",
    "MEDIA_RELEASE",
    "PUBLIC_MEDIA_PATH",
    "Attachment",
    "AttachmentThumbnail",
    "LinkKind",
    "LinkRequest",
    "Linked",
    "ReleaseRequest",
    "Released",
    "public_media_url",
]

MEDIA_LINK = "link"
MEDIA_RELEASE = "release"
MAX_ATTACHMENTS = 10
MEDIA_BASE_PATH = "/api/v1/media"
# Avatars and server icons are shown here to anyone, without a token.
PUBLIC_MEDIA_PATH = f"{MEDIA_BASE_PATH}/public"


def public_media_url(media_id: int | str) -> str:
    return f"{PUBLIC_MEDIA_PATH}/{media_id}"


# What a file is linked to: a message (an attachment), a user (an avatar), a server (an icon).
LinkKind = Literal["message", "user", "server"]


class AttachmentThumbnail(msgspec.Struct, frozen=True, kw_only=True):
    size: int
    width: int
    height: int
    url: str


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A file as others show it. The urls are media's routes: each answers 302 to a
    presigned store URL for whoever may see the file."""

    id: Snowflake
    filename: str
    size: int
    content_type: str
    width: int | None = None
    height: int | None = None
    url: str
    thumbnails: list[AttachmentThumbnail] = []


class LinkRequest(msgspec.Struct, frozen=True, kw_only=True):
    owner_id: Snowflake  # the files must be this user's uploads
    media_ids: Annotated[list[Snowflake], msgspec.Meta(min_length=1, max_length=MAX_ATTACHMENTS)]
    kind: LinkKind
    target_id: Snowflake
    # A message's channel and server: who may see its files, and what deleting them releases.
    channel_id: Snowflake | None = None
    server_id: Snowflake | None = None


class Linked(msgspec.Struct, frozen=True, kw_only=True):
    attachments: list[Attachment]  # in the order asked


class ReleaseRequest(msgspec.Struct, frozen=True, kw_only=True):
    kind: LinkKind
    target_id: Snowflake


class Released(msgspec.Struct, frozen=True, kw_only=True):
    count: int
