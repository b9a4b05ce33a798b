"""Consumes guilds' events: messages go with their server or channel, a ban may take the
banned member's recent messages, and every event that changes access (as its payload declares:
``EventPayload.changes_access``) moves the server's permission epoch again (guilds moves it
right after its commit; this covers a guilds instance that died in between)."""

from __future__ import annotations

from nats.aio.msg import Msg

from harmoniq_common.access import bump_epoch
from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.events import (
    ACCESS_CHANGES,
    BanAdded,
    ChannelDeleted,
    Envelope,
    EventPayload,
    ServerDeleted,
    decode_payload,
)
from harmoniq_common.platform import Platform

from ..domain.cleanup import Cleanup

__all__ = ["guild_events_consumer"]

CONSUMER = "messages-guilds"
# Events whose messages go with them (they change access too; wanted here for this anyway).
CLEANUPS: tuple[type[EventPayload], ...] = (ServerDeleted, ChannelDeleted, BanAdded)


def guild_events_consumer(platform: Platform, cleanup: Cleanup) -> DurableConsumer:
    async def handle(envelope: Envelope, _message: Msg) -> None:
        event = decode_payload(envelope)
        server_id = platform.subjects.server_of(_message.subject)
        if server_id is not None and event.changes_access is not None:
            await bump_epoch(platform.redis, platform.subjects, server_id)
        # Each removal is idempotent, so no delivery bookkeeping is needed.
        if isinstance(event, ServerDeleted):
            await cleanup.remove_server(event.server_id)
        elif isinstance(event, ChannelDeleted):
            await cleanup.remove_channel(event.channel_id)
        elif isinstance(event, BanAdded) and event.delete_messages_seconds > 0:
            await cleanup.remove_recent_by(
                event.server_id, event.user_id, event.delete_messages_seconds, envelope.occurred_at
            )

    subjects = platform.subjects
    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=sorted(
            {subjects.server_events_of_type(e.event_type) for e in (*ACCESS_CHANGES, *CLEANUPS)}
        ),
        handler=handle,
    )
