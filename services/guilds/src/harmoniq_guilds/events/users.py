"""Consumes auth's user events: the users projection, and removal of deleted accounts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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

from ..domain.changes import guild_change
from ..domain.servers import Servers
from ..domain.users import apply_user_event

__all__ = ["user_events_consumer"]

CONSUMER = "guilds-users"


def _handler(platform: Platform, servers: Servers) -> Callable[[Envelope, Msg], Awaitable[None]]:
    async def handle(envelope: Envelope, _message: Msg) -> None:
        event = decode_payload(envelope)
        if not isinstance(event, UserCreated | UserUpdated | UserDeleted):
            return
        async with guild_change(platform) as tx:
            if await first_delivery(tx.conn, CONSUMER, envelope.id):
                await apply_user_event(tx, platform, servers, event)

    return handle


def user_events_consumer(platform: Platform, servers: Servers) -> DurableConsumer:
    subjects = platform.subjects
    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=[
            subjects.user_events_of_type(t)
            for t in (UserCreated.event_type, UserUpdated.event_type, UserDeleted.event_type)
        ],
        handler=_handler(platform, servers),
    )
