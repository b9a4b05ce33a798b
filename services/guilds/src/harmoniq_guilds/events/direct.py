"""Follows DM messages (``message.create`` on user subjects) to order the DM list by activity.

Idempotent without bookkeeping: the activity only moves forwards (``greatest``), so a repeat,
or one copy per participant of the same message, changes nothing twice.
"""

from __future__ import annotations

from nats.aio.msg import Msg

from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.events import Envelope, MessageCreated, decode_payload
from harmoniq_common.platform import Platform

from ..store import direct

__all__ = ["dm_activity_consumer"]

CONSUMER = "guilds-dm-activity"


def dm_activity_consumer(platform: Platform) -> DurableConsumer:
    async def handle(envelope: Envelope, _message: Msg) -> None:
        event = decode_payload(envelope)
        if (
            not isinstance(event, MessageCreated)
            or event.message.server_id != event.message.channel_id
        ):
            return
        async with platform.pool.acquire() as conn:
            await direct.set_activity(conn, event.message.channel_id, event.message.id)

    return DurableConsumer(
        platform.js,
        stream=platform.subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=[platform.subjects.user_events_of_type(MessageCreated.event_type)],
        handler=handle,
    )
