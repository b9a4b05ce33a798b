"""A message's files, asked of media: linked before the message commits, released if it
does not. media refuses files that are not the sender's ready attachments or are in use;
its 4xx answers reach the sender as they are."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import structlog

from harmoniq_common.access import ChannelAccess
from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import (
    MEDIA_LINK,
    MEDIA_RELEASE,
    Attachment,
    Linked,
    LinkRequest,
    Released,
    ReleaseRequest,
)
from harmoniq_common.platform import Platform

__all__ = ["Files"]

log = structlog.get_logger(__name__)


class Files:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def link(
        self, user_id: int, access: ChannelAccess, message_id: Snowflake, ids: Sequence[int]
    ) -> list[Attachment]:
        if not ids:
            return []
        linked = await request(
            self._platform.nats,
            self._platform.subjects.rpc("media", MEDIA_LINK),
            LinkRequest(
                owner_id=Snowflake(user_id),
                media_ids=[Snowflake(i) for i in ids],
                kind="message",
                target_id=message_id,
                channel_id=access.channel_id,
                server_id=access.server_id,
            ),
            Linked,
        )
        return linked.attachments

    async def release(self, message_id: Snowflake) -> None:
        """Undo a link whose message was not stored: the files are the sender's to use again
        (best effort: see ``Messages.send``)."""
        with contextlib.suppress(ApiError):
            await request(
                self._platform.nats,
                self._platform.subjects.rpc("media", MEDIA_RELEASE),
                ReleaseRequest(kind="message", target_id=message_id),
                Released,
            )
            return
        log.warning("messages.release_failed", message_id=message_id)
