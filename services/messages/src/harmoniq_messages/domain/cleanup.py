"""Removal of messages when what holds them goes: a server, a channel, a banned member's
recent messages. Each is idempotent (deleting what is gone deletes nothing), so redelivered
events are harmless, and large removals go in bounded batches so no transaction grows with
the size of the server."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from harmoniq_common.events import MessageDeleted, MessagesBulkDeleted
from harmoniq_common.ids import Snowflake, lowest_snowflake_at
from harmoniq_common.platform import Platform
from harmoniq_common.uow import unit_of_work

from ..settings import MessagesSettings
from ..store import messages

__all__ = ["Cleanup"]

log = structlog.get_logger(__name__)


class Cleanup:
    def __init__(self, platform: Platform, settings: MessagesSettings) -> None:
        self._platform = platform
        self._batch = settings.cleanup_batch_size

    async def remove_server(self, server_id: int) -> int:
        removed = 0
        while True:
            async with self._platform.pool.acquire() as conn:
                count = await messages.delete_server_batch(conn, server_id, self._batch)
            removed += count
            if count < self._batch:
                break
        log.info("messages.server_removed", server_id=server_id, count=removed)
        return removed

    async def remove_channel(self, channel_id: int) -> int:
        removed = 0
        while True:
            async with self._platform.pool.acquire() as conn:
                count = await messages.delete_channel_batch(conn, channel_id, self._batch)
            removed += count
            if count < self._batch:
                break
        log.info("messages.channel_removed", channel_id=channel_id, count=removed)
        return removed

    async def remove_recent_by(
        self, server_id: int, user_id: int, seconds: int, as_of: datetime
    ) -> int:
        """A ban's "delete their messages of the last N seconds", counted from the ban."""
        since = lowest_snowflake_at(int((as_of - timedelta(seconds=seconds)).timestamp() * 1000))
        async with unit_of_work(self._platform) as tx:
            removed = await messages.delete_by_author_since(tx.conn, server_id, user_id, since)
            for channel_id, ids in removed.items():
                if len(ids) == 1:
                    event: MessageDeleted | MessagesBulkDeleted = MessageDeleted(
                        server_id=Snowflake(server_id), channel_id=channel_id, message_id=ids[0]
                    )
                else:
                    event = MessagesBulkDeleted(
                        server_id=Snowflake(server_id), channel_id=channel_id, message_ids=ids
                    )
                await tx.emit_server(server_id, event)
        return sum(len(ids) for ids in removed.values())
