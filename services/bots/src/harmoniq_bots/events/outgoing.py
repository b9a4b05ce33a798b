"""Outgoing webhooks hear every server event through a durable consumer of their own (an
event published while bots was down is delivered when it is back); each becomes deliveries to
the server's endpoints that take its type (``domain/outgoing.py``)."""

from __future__ import annotations

from nats.aio.msg import Msg

from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.events import Envelope
from harmoniq_common.platform import Platform

from ..domain.outgoing import Outgoing

__all__ = ["CONSUMER", "outgoing_events_consumer"]

CONSUMER = "bots-outgoing"


def outgoing_events_consumer(platform: Platform, outgoing: Outgoing) -> DurableConsumer:
    subjects = platform.subjects

    async def handle(envelope: Envelope, message: Msg) -> None:
        server_id = subjects.server_of(message.subject)
        if server_id is not None:
            await outgoing.fan_out(server_id, envelope)

    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=CONSUMER,
        filter_subjects=[f"{subjects.namespace}.ev.server.>"],
        handler=handle,
    )
