"""An uploaded avatar, linked by media (asked over NATS): the user's own ready image upload
(purpose ``avatar``) becomes theirs, the previous one is released by media, and the URL to
show is media's public redirect route for it. media's refusals (someone else's upload, one in use,
not an avatar) reach the caller as the 4xx media answered."""

from __future__ import annotations

from harmoniq_common.consumers import request
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import MEDIA_LINK, Linked, LinkRequest
from harmoniq_common.platform import Platform

__all__ = ["link_avatar"]


async def link_avatar(platform: Platform, user_id: int, media_id: int) -> str:
    linked = await request(
        platform.nats,
        platform.subjects.rpc("media", MEDIA_LINK),
        LinkRequest(
            owner_id=Snowflake(user_id),
            media_ids=[Snowflake(media_id)],
            kind="user",
            target_id=Snowflake(user_id),
        ),
        Linked,
    )
    return linked.attachments[0].url
