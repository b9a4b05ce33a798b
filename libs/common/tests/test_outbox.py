"""The outbox: committed events reach JetStream at least once, in order, deduplicated."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects, ensure_streams
from harmoniq_common.events import UserDeleted, decode_payload
from harmoniq_common.ids import SnowflakeGenerator
from harmoniq_common.outbox import OutboxRelay, enqueue
from harmoniq_common.testing.events import collect_events


async def _commit_events(pool: asyncpg.Pool, subjects: Subjects, n: int) -> list[int]:
    ids = SnowflakeGenerator(3)
    written: list[int] = []
    async with pool.acquire() as conn, conn.transaction():
        for _ in range(n):
            event_id = ids.next_id()
            await enqueue(
                conn,
                event_id,
                subjects.user_event(event_id, "user.deleted"),
                UserDeleted(user_id=event_id, deleted_at=datetime.now(UTC)),
            )
            written.append(event_id)
    return written


async def test_rows_committed_while_no_relay_ran_are_published_later_in_order(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    """The process died right after the commit: the next relay to start publishes them."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    written = await _commit_events(pool, subjects, 25)

    relay = OutboxRelay(pool, js, schema="probe")
    await relay.start()
    try:
        envelopes = await collect_events(nats_client, namespace, subjects.all_events, count=25)
    finally:
        await relay.stop()
    assert [e.id for e in envelopes] == written
    assert [decode_payload(e).user_id for e in envelopes] == written  # type: ignore[attr-defined]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_republishing_after_a_crash_between_ack_and_delete_is_deduplicated(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    [event_id] = await _commit_events(pool, subjects, 1)
    row = await pool.fetchrow("SELECT * FROM outbox")
    # Simulate: the relay published and JetStream acked, then the process died before DELETE.
    ack = await js.publish(
        row["subject"], bytes(row["payload"]), headers={"Nats-Msg-Id": str(row["id"])}
    )
    relay = OutboxRelay(pool, js, schema="probe")
    assert await relay.relay_once() == 1
    info = await js.stream_info(subjects.events_stream)
    assert info.state.messages == 1
    assert ack.seq == 1
    [envelope] = await collect_events(nats_client, namespace, subjects.all_events, count=1)
    assert envelope.id == event_id


async def test_a_rolled_back_transaction_publishes_nothing(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    """Nothing of it ever reaches JetStream, while an event committed after it does."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    ids = SnowflakeGenerator(4)
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        rolled_back = ids.next_id()
        await enqueue(
            conn,
            rolled_back,
            subjects.user_event(rolled_back, "user.deleted"),
            UserDeleted(user_id=rolled_back, deleted_at=datetime.now(UTC)),
        )
        await tx.rollback()
    [committed] = await _commit_events(pool, subjects, 1)

    relay = OutboxRelay(pool, js, schema="probe")
    await relay.start()
    try:
        # Everything on the stream, in order (collect_events also waits for any extra one).
        envelopes = await collect_events(nats_client, namespace, subjects.all_events, count=1)
    finally:
        await relay.stop()
    assert [e.id for e in envelopes] == [committed]
    assert (await js.stream_info(subjects.events_stream)).state.messages == 1
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
