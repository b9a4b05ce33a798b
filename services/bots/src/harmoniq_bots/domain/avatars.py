"""A webhook's avatar uploaded to media, linked over NATS like a server's icon: the caller's
own ready upload (purpose ``avatar``) becomes the webhook's (media releases the previous one,
and the file when media sees the webhook's ``webhook.delete``), shown at media's public route.
media's refusals (not yours, not an avatar, not ready) reach the caller as media answered."""

from __future__ import annotations

from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError, FieldError
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import (
    MEDIA_LINK,
    MEDIA_RELEASE,
    Linked,
    LinkRequest,
    Released,
    ReleaseRequest,
    public_media_url,
)
from harmoniq_common.platform import Platform

__all__ = ["link_avatar", "release_avatar"]


async def link_avatar(
    platform: Platform, user_id: int, server_id: int, webhook_id: int, media_id: int
) -> str:
    """The public URL of the linked avatar."""
    try:
        linked = await request(
            platform.nats,
            platform.subjects.rpc("media", MEDIA_LINK),
            LinkRequest(
                owner_id=Snowflake(user_id),
                media_ids=[Snowflake(media_id)],
                kind="webhook",
                target_id=Snowflake(webhook_id),
                server_id=Snowflake(server_id),
            ),
            Linked,
        )
    except ApiError as refused:
        if refused.status_code < 500:  # the caller's file: name the field it came in
            refused.errors = [FieldError("avatar_id", refused.message)]
        raise
    return public_media_url(linked.attachments[0].id)


async def release_avatar(platform: Platform, webhook_id: int) -> None:
    """The webhook no longer shows an uploaded avatar (it took a URL, or none)."""
    await request(
        platform.nats,
        platform.subjects.rpc("media", MEDIA_RELEASE),
        ReleaseRequest(kind="webhook", target_id=Snowflake(webhook_id)),
        Released,
    )
