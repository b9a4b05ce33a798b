"""Webhooks go with their channel and server: bots consumes guilds' ``channel.deleted`` and
``server.deleted`` durably (a webhook is removed even if bots was down when its channel went).
Each removal is a ``DELETE … RETURNING`` announced in the same transaction, so a redelivered
event finds nothing left and announces nothing twice: no bookkeeping is needed."""

from __future__ import annotations

from nats.aio.msg import Msg

from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.events import ChannelDeleted, Envelope, ServerDeleted, decode_payload
from harmoniq_common.platform import Platform

from ..domain.webhooks import Webhooks

__all__ = ["CONSUMER", "guild_events_consumer"]

CONSUMER = "bots-guilds"


def guild_events_consumer(platform: Platform, webhooks: Webhooks) -> DurableConsumer:
    async def handle(envelope: Envelope, _message: Msg) -> None:
        event = decode_payload(envelope)
        if isinstance(event, ChannelDeleted):
            await webhooks.remove_in_channel(event.channel_id)
        elif isinstance(event, ServerDeleted):
            await webhooks.remove_in_server(event.server_id)

    subjects = platform.subjects
    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=sorted(
            subjects.server_events_of_type(e.event_type) for e in (ChannelDeleted, ServerDeleted)
        ),
        handler=handle,
    )
