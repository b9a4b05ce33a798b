"""An uploaded server icon, linked by media (asked over NATS): the caller's own ready image
upload (purpose ``icon``) becomes the server's, media releases the previous one, and the
server's ``icon_id`` is the media id (served at ``/api/v1/media/public/{icon_id}``). media's
refusals reach the caller as the 4xx media answered."""

from __future__ import annotations

from harmoniq_common.consumers import request
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import MEDIA_LINK, Linked, LinkRequest
from harmoniq_common.platform import Platform

__all__ = ["link_icon"]


async def link_icon(platform: Platform, user_id: int, server_id: int, media_id: int) -> str:
    linked = await request(
        platform.nats,
        platform.subjects.rpc("media", MEDIA_LINK),
        LinkRequest(
            owner_id=Snowflake(user_id),
            media_ids=[Snowflake(media_id)],
            kind="server",
            target_id=Snowflake(server_id),
            server_id=Snowflake(server_id),
        ),
        Linked,
    )
    return str(linked.attachments[0].id)
