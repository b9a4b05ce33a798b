"""Files go with what they were linked to: media consumes the deletion events of messages,
channels, servers, accounts and webhooks (durably: a file is released even if media was down when the
deletion happened) rather than being called by each service that deletes. Each release is
idempotent, so redelivery needs no bookkeeping; a store failure raises, and the event is
retried (see docs/decisions.md, "Files go with their deletion events"). ``message.create`` is
not heard: a message's link is confirmed by asking messages (:mod:`..domain.confirmations`)."""

from __future__ import annotations

from nats.aio.msg import Msg

from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.events import (
    ChannelDeleted,
    Envelope,
    MessageDeleted,
    MessagesBulkDeleted,
    ServerDeleted,
    UserDeleted,
    WebhookDeleted,
    decode_payload,
)
from harmoniq_common.platform import Platform

from ..domain.links import Links

__all__ = ["CONSUMER", "deletion_events_consumer"]

CONSUMER = "media-deletions"


def deletion_events_consumer(platform: Platform, links: Links) -> DurableConsumer:
    async def handle(envelope: Envelope, _message: Msg) -> None:
        event = decode_payload(envelope)
        if isinstance(event, MessageDeleted):
            await links.release(kind="message", target_id=event.message_id)
        elif isinstance(event, MessagesBulkDeleted):
            for message_id in event.message_ids:
                await links.release(kind="message", target_id=message_id)
        elif isinstance(event, ChannelDeleted):
            await links.release(channel_id=event.channel_id)
        elif isinstance(event, ServerDeleted):
            await links.release(server_id=event.server_id)
        elif isinstance(event, UserDeleted):
            await links.release(kind="user", target_id=event.user_id)
        elif isinstance(event, WebhookDeleted):  # services/bots: its avatar goes with it
            await links.release(kind="webhook", target_id=event.webhook_id)

    subjects = platform.subjects
    server_events = (
        MessageDeleted,
        MessagesBulkDeleted,
        ChannelDeleted,
        ServerDeleted,
        WebhookDeleted,
    )
    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=sorted(
            [
                *(subjects.server_events_of_type(e.event_type) for e in server_events),
                subjects.user_events_of_type(UserDeleted.event_type),
                # A DM's messages go to its participants' user subjects (one copy each: the
                # releases are idempotent).
                *(
                    subjects.user_events_of_type(e.event_type)
                    for e in (MessageDeleted, MessagesBulkDeleted)
                ),
            ]
        ),
        handler=handle,
    )
