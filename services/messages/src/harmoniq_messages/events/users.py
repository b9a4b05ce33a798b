"""Consumes auth's user events: the authors projection, anonymised on account deletion."""

from __future__ import annotations

from nats.aio.msg import Msg

from harmoniq_common.consumers import DurableConsumer, first_delivery
from harmoniq_common.events import (
    Envelope,
    UserCreated,
    UserDeleted,
    UserUpdated,
    decode_payload,
)
from harmoniq_common.platform import Platform
from harmoniq_common.uow import unit_of_work

from ..domain.authors import apply_user_event

__all__ = ["user_events_consumer"]

CONSUMER = "messages-users"


def user_events_consumer(platform: Platform) -> DurableConsumer:
    async def handle(envelope: Envelope, _message: Msg) -> None:
        event = decode_payload(envelope)
        if not isinstance(event, UserCreated | UserUpdated | UserDeleted):
            return
        async with unit_of_work(platform) as tx:
            if await first_delivery(tx.conn, CONSUMER, envelope.id):
                await apply_user_event(tx, event)

    subjects = platform.subjects
    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=[
            subjects.user_events_of_type(t)
            for t in (UserCreated.event_type, UserUpdated.event_type, UserDeleted.event_type)
        ],
        handler=handle,
    )
