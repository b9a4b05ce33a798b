"""Consumes guilds' events: kicks, bans, deleted channels and servers disconnect at once, and
every change to access re-checks who may still be connected (and who may speak). Each event
that changes access moves the server's permission epoch again first (as in messages), so the
re-check asks guilds afresh."""

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
    MemberLeft,
    ServerDeleted,
    decode_payload,
)
from harmoniq_common.platform import Platform

from ..domain.states import Voice

__all__ = ["guild_events_consumer"]

CONSUMER = "voice-guilds"


async def _apply(voice: Voice, event: EventPayload, server_id: int) -> None:
    """Every step is idempotent (what is gone emits nothing), so redeliveries are harmless."""
    if isinstance(event, ServerDeleted):
        await voice.remove(reason="server_deleted", server_id=server_id)
    elif isinstance(event, ChannelDeleted):
        await voice.remove(reason="channel_deleted", channel_id=int(event.channel_id))
    elif isinstance(event, MemberLeft | BanAdded):
        reason = event.reason if isinstance(event, MemberLeft) else "banned"
        await voice.remove(reason=reason, server_id=server_id, user_id=int(event.user_id))
    elif event.changes_access == "server":
        await voice.recheck(server_id)
    elif event.changes_access == "member" and (member := event.access_changed_for()):
        await voice.recheck(server_id, int(member))


def guild_events_consumer(platform: Platform, voice: Voice) -> DurableConsumer:
    async def handle(envelope: Envelope, message: Msg) -> None:
        server_id = platform.subjects.server_of(message.subject)
        if server_id is None:
            return
        event = decode_payload(envelope)
        if event.changes_access is not None:
            await bump_epoch(platform.redis, platform.subjects, server_id)
        await _apply(voice, event, server_id)

    subjects = platform.subjects
    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=sorted(
            {subjects.server_events_of_type(e.event_type) for e in ACCESS_CHANGES}
        ),
        handler=handle,
    )
