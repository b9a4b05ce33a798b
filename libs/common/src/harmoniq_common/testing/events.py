"""Await durable events in tests (no sleeps): read the stream until the expected ones arrive."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NatsClient

from ..bus import Subjects
from ..events import Envelope, decode_envelope

__all__ = ["collect_events"]


async def collect_events(
    nc: NatsClient, namespace: str, subject_filter: str, *, count: int, timeout: float = 10.0
) -> list[Envelope]:
    """The first ``count`` events on ``subject_filter`` in stream order, from the beginning.

    Waits (up to ``timeout``) for the outbox relay to publish them; fails if fewer arrive.
    Then checks briefly that no more than ``count`` exist, so "exactly n" can be asserted.
    """
    js = nc.jetstream()
    sub = await js.subscribe(
        subject_filter, stream=Subjects(namespace).events_stream, ordered_consumer=True
    )
    envelopes: list[Envelope] = []
    try:
        async with asyncio.timeout(timeout):
            while len(envelopes) < count:
                msg = await sub.next_msg(timeout=timeout)
                envelopes.append(decode_envelope(msg.data))
        # Whatever else is already in the stream is delivered right away by the consumer.
        try:
            msg = await sub.next_msg(timeout=0.3)
            envelopes.append(decode_envelope(msg.data))
        except TimeoutError:
            pass
    finally:
        await sub.unsubscribe()
    return envelopes
