"""The outbox: committed events reach JetStream at least once, in order, deduplicated."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import asyncpg
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects, ensure_streams
from harmoniq_common.events import UserDeleted, decode_payload
from harmoniq_common.ids import Snowflake, SnowflakeGenerator
from harmoniq_common.outbox import OutboxRelay, enqueue, insert_rows_sql, prepare, row_arrays
from harmoniq_common.platform import Platform
from harmoniq_common.testing.events import collect_events
from harmoniq_common.uow import unit_of_work


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


async def test_a_commit_publishes_its_events_at_once_without_the_relay(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    """Issue #15: the unit of work's own task publishes right after the commit and deletes the
    rows on JetStream's ack; no relay runs here (it would only poll once an hour)."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    relay = OutboxRelay(pool, js, schema="probe", poll_interval=3600, nats=nats_client)
    ids = SnowflakeGenerator(6)
    platform = cast(
        Platform,
        SimpleNamespace(pool=pool, outbox=relay, subjects=subjects, new_id=ids.next_id),
    )
    async with unit_of_work(platform) as tx:
        first = await tx.emit_user(
            1, UserDeleted(user_id=Snowflake(1), deleted_at=datetime.now(UTC))
        )
        second = await tx.emit_user(
            2, UserDeleted(user_id=Snowflake(2), deleted_at=datetime.now(UTC))
        )
    # Already on the stream, in order, nothing waited for a poll; the rows go once the
    # background delete has run.
    assert (await js.stream_info(subjects.events_stream)).state.messages == 2
    await relay.settle_deletes()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert relay.published_at_once == 2 and relay.published == 0
    envelopes = await collect_events(nats_client, namespace, subjects.all_events, count=2)
    assert [e.id for e in envelopes] == [first, second]


async def test_an_unacknowledged_publish_leaves_the_row_for_the_sweep(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    """No stream answers (as when JetStream is away): the commit stands, the row stays; the
    relay's sweep leaves rows younger than ``sweep_after`` to their request and publishes the
    rest, and a relay starting up publishes everything."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    relay = OutboxRelay(pool, js, schema="probe", sweep_after=60, nats=nats_client)
    platform = cast(
        Platform,
        SimpleNamespace(
            pool=pool, outbox=relay, subjects=subjects, new_id=SnowflakeGenerator(7).next_id
        ),
    )
    async with unit_of_work(platform) as tx:
        event_id = await tx.emit_user(
            3, UserDeleted(user_id=Snowflake(3), deleted_at=datetime.now(UTC))
        )
    assert await pool.fetchval("SELECT id FROM outbox") == event_id  # no stream: not acked
    await ensure_streams(js, subjects)
    assert await relay.relay_once(older_than=60) == 0  # young: its request may still publish
    assert await relay.relay_once() == 1
    [envelope] = await collect_events(nats_client, namespace, subjects.all_events, count=1)
    assert envelope.id == event_id
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_one_statement_writes_its_events_only_with_the_change(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    """insert_rows_sql in a data-modifying CTE: the change and its rows commit together, with
    no transaction opened; a statement that changed nothing (a repeat) writes no row. The
    rows are as enqueue writes them: the relay publishes them, headers and all."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    await pool.execute("CREATE TABLE probe_changes (id bigint PRIMARY KEY)")
    statement = (
        "WITH change AS (INSERT INTO probe_changes (id) VALUES ($1) ON CONFLICT DO NOTHING"
        " RETURNING id), events AS ("
        + insert_rows_sql(2, only_if="EXISTS (SELECT 1 FROM change)")
        + ") SELECT count(*) FROM change"
    )
    ids = SnowflakeGenerator(7)
    written: list[int] = []
    headers: dict[int, dict[str, str]] = {}
    for attempt in range(2):  # the second is a repeat: no change, no event
        rows = [
            prepare(
                event_id,
                subjects.user_event(event_id, "user.deleted"),
                UserDeleted(user_id=event_id, deleted_at=datetime.now(UTC)),
            )
            for event_id in (ids.next_id(), ids.next_id())
        ]
        async with pool.acquire() as conn:
            changed = await conn.fetchval(statement, 42, *row_arrays(rows))
        assert changed == (1 if attempt == 0 else 0)
        if changed:
            written += [row.id for row in rows]
            headers |= {row.id: {**row.headers, "probe": "kept"} for row in rows}
            await pool.execute(  # an object, not a JSON string: || merges into it
                'UPDATE outbox SET headers = headers || \'{"probe": "kept"}\''
            )
    stored = await pool.fetch("SELECT id, headers FROM outbox ORDER BY id")
    assert [r["id"] for r in stored] == written
    assert {r["id"]: r["headers"] for r in stored} == headers

    relay = OutboxRelay(pool, js, schema="probe")
    await relay.start()
    try:
        envelopes = await collect_events(nats_client, namespace, subjects.all_events, count=2)
    finally:
        await relay.stop()
    assert [e.id for e in envelopes] == written
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0


async def test_acknowledged_rows_of_many_commits_go_in_one_delete(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    """Each commit's events leave at once, but their rows wait for one DELETE together
    (``delete_every``; here an hour, so only settle_deletes ends the wait)."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    relay = OutboxRelay(
        pool, js, schema="probe", poll_interval=3600, delete_every=3600, nats=nats_client
    )
    ids = SnowflakeGenerator(8)
    platform = cast(
        Platform,
        SimpleNamespace(pool=pool, outbox=relay, subjects=subjects, new_id=ids.next_id),
    )
    for user_id in range(1, 11):
        async with unit_of_work(platform) as tx:
            await tx.emit_user(
                user_id, UserDeleted(user_id=Snowflake(user_id), deleted_at=datetime.now(UTC))
            )
    assert (await js.stream_info(subjects.events_stream)).state.messages == 10
    assert relay.published_at_once == 10
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 10  # none deleted yet
    await relay.settle_deletes()
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    assert relay.delete_statements == 1
