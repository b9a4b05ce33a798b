"""Durable consumers (at least once, idempotent, survive a NATS restart) and request/reply."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import REGISTRY

from harmoniq_common.bus import Subjects, ensure_streams, outgoing_headers
from harmoniq_common.consumers import DurableConsumer, first_delivery, request, serve
from harmoniq_common.errors import ApiError, NotFound, RateLimited, ServiceUnavailable
from harmoniq_common.events import Envelope, UserDeleted, UserSummary, encode_envelope
from harmoniq_common.ids import Snowflake, SnowflakeGenerator
from harmoniq_common.logging import bind_correlation_id, correlation_id
from harmoniq_common.testing.infra import free_port, wait_for_tcp

IDS = SnowflakeGenerator(9)


async def _publish(nc: NatsClient, subjects: Subjects, *, msg_id: int | None = None) -> Snowflake:
    event_id = IDS.next_id() if msg_id is None else Snowflake(msg_id)
    body = encode_envelope(
        event_id, UserDeleted(user_id=event_id, deleted_at=datetime.now(UTC)), datetime.now(UTC)
    )
    await nc.jetstream().publish(
        subjects.user_event(event_id, "user.deleted"),
        body,
        headers=outgoing_headers(msg_id=str(event_id)),
    )
    return event_id


async def test_every_event_is_applied_once_despite_failures_and_redelivery(
    nats_client: NatsClient, namespace: str, pool: asyncpg.Pool
) -> None:
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    applied: list[int] = []
    calls: dict[int, int] = {}
    done = asyncio.Event()
    expected = 20

    async def handler(envelope: Envelope, message: Msg) -> None:
        calls[envelope.id] = calls.get(envelope.id, 0) + 1
        async with pool.acquire() as conn, conn.transaction():
            if not await first_delivery(conn, "test", envelope.id):
                return
            if calls[envelope.id] == 1 and envelope.id % 3 == 0:
                raise RuntimeError("transient failure: rolled back, NAKed, redelivered")
            applied.append(envelope.id)
        if len(applied) == expected:
            done.set()

    consumer = DurableConsumer(
        js,
        stream=subjects.events_stream,
        durable="test",
        filter_subjects=[subjects.user_events_of_type("user.deleted")],
        handler=handler,
        retry_delay=0.05,
    )
    published = [await _publish(nats_client, subjects) for _ in range(expected)]
    await consumer.start()
    try:
        await asyncio.wait_for(done.wait(), 15)
    finally:
        await consumer.stop()
    assert sorted(applied) == sorted(published)
    assert any(count > 1 for count in calls.values()), "some events were redelivered"


async def test_consumer_keeps_consuming_after_nats_restarts(tmp_path: Path) -> None:
    """The nats.py #504 trap: a pull subscription must survive a killed nats-server."""
    binary = Path(sys.executable).parent / "nats-server"
    port = free_port()
    store = tmp_path / "js"
    command = [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)]

    def start() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_tcp("127.0.0.1", port, 10)
        return server

    server = start()
    subjects = Subjects("restart")
    received: asyncio.Queue[int] = asyncio.Queue()

    async def handler(envelope: Envelope, message: Msg) -> None:
        await received.put(envelope.id)

    nc = await nats.connect(
        f"nats://127.0.0.1:{port}", max_reconnect_attempts=-1, reconnect_time_wait=0.2
    )
    try:
        js = nc.jetstream()
        await ensure_streams(js, subjects)
        consumer = DurableConsumer(
            js,
            stream=subjects.events_stream,
            durable="survivor",
            filter_subjects=[subjects.all_events],
            handler=handler,
            retry_delay=0.2,
        )
        await consumer.start()
        first = await _publish(nc, subjects)
        assert await asyncio.wait_for(received.get(), 10) == first

        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start()

        async def publish_when_back() -> Snowflake:
            while True:
                try:
                    return await _publish(nc, subjects)
                except Exception:
                    await asyncio.sleep(0.2)  # reconnecting; retry the publish

        second = await asyncio.wait_for(publish_when_back(), 20)

        async def until_second() -> None:
            # The kill may have lost the first message's ack: at-least-once redelivers it,
            # and nothing but that may come before the second.
            while (got := await received.get()) != second:
                assert got == first

        await asyncio.wait_for(until_second(), 20)
        await consumer.stop()
    finally:
        await nc.close()
        server.terminate()
        server.wait()


async def test_request_reply_round_trip_errors_and_correlation(
    nats_client: NatsClient, namespace: str
) -> None:
    subject = Subjects(namespace).rpc("auth", "get_user")
    seen_correlation: list[str | None] = []

    async def get_user(user_id: Snowflake) -> UserSummary:
        seen_correlation.append(correlation_id())
        if user_id == 404:
            raise NotFound("no such user", code="unknown_user")
        if user_id == 429:
            raise RateLimited(headers={"Retry-After": "7"})
        if user_id == 500:  # the handler's own decoding fails: not the asker's bad question
            msgspec.json.decode(b"{", type=UserSummary)
        return UserSummary(id=user_id, username="alice")

    subscription = await serve(nats_client, subject, Snowflake, get_user, queue="auth")
    try:
        bind_correlation_id("rpc-correlation-1")
        answer = await request(nats_client, subject, Snowflake(42), UserSummary)
        assert answer == UserSummary(id=Snowflake(42), username="alice")
        assert seen_correlation == ["rpc-correlation-1"]
        with pytest.raises(ApiError) as caught:
            await request(nats_client, subject, Snowflake(404), UserSummary)
        assert caught.value.code == "unknown_user"
        assert caught.value.headers == {}
        with pytest.raises(ApiError) as limited:  # a 429 keeps its Retry-After across the hop
            await request(nats_client, subject, Snowflake(429), UserSummary)
        assert (limited.value.status_code, limited.value.code) == (429, "rate_limited")
        assert limited.value.headers == {"Retry-After": "7"}
        with pytest.raises(ServiceUnavailable):
            await request(nats_client, subject + ".nobody", Snowflake(1), UserSummary, timeout=0.3)
        # Not JSON at all is the asker's fault, like a wrong shape: a 400, not a 503.
        raw = await nats_client.request(subject, b"\xff not json", timeout=2)
        assert msgspec.json.decode(raw.data)["error"]["code"] == "invalid_request"
        with pytest.raises(ApiError) as failed:
            await request(nats_client, subject, Snowflake(500), UserSummary)
        assert (failed.value.status_code, failed.value.code) == (503, "internal_error")
    finally:
        await subscription.unsubscribe()


async def test_questions_are_answered_side_by_side_up_to_a_bound(
    nats_client: NatsClient, namespace: str
) -> None:
    """A question that waits (on the database, say) does not hold up the next one; past the
    bound, the rest wait their turn and are still answered."""
    subject = Subjects(namespace).rpc("guilds", "slow_or_fast")
    release = asyncio.Event()
    waiting = 0

    async def answer(number: int) -> int:
        nonlocal waiting
        if number < 0:
            waiting += 1
            await release.wait()
        return number

    subscription = await serve(nats_client, subject, int, answer, queue="g", concurrency=2)
    try:
        slow = asyncio.create_task(request(nats_client, subject, -1, int))
        assert await request(nats_client, subject, 7, int) == 7
        assert not slow.done() and waiting == 1
        # Both slots taken by slow questions: a third waits for one of them.
        slower = asyncio.create_task(request(nats_client, subject, -2, int))
        queued = asyncio.create_task(request(nats_client, subject, 8, int))
        done, _ = await asyncio.wait({queued}, timeout=0.3)
        assert not done and waiting == 2
        release.set()
        assert list(await asyncio.gather(slow, slower, queued)) == [-1, -2, 8]
    finally:
        await subscription.unsubscribe()


async def test_a_restarted_consumer_takes_its_new_filters(
    nats_client: NatsClient, namespace: str
) -> None:
    """An upgrade that drops a subject from a durable consumer's filters: starting it again
    updates the consumer on NATS (nats-py's legacy DURABLE.CREATE carries no action, which
    the server takes as create-or-update), so it stops receiving that subject."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    deleted = subjects.user_events_of_type("user.deleted")
    updated = subjects.user_events_of_type("user.updated")

    async def ignore(envelope: Envelope, message: Msg) -> None:
        return None

    def consumer(filters: list[str]) -> DurableConsumer:
        return DurableConsumer(
            js, stream=subjects.events_stream, durable="narrowing",
            filter_subjects=filters, handler=ignore,
        )  # fmt: skip

    before = consumer(sorted([deleted, updated]))
    await before.start()
    await before.stop()
    after = consumer([deleted])
    await after.start()
    await after.stop()
    info = await js.consumer_info(subjects.events_stream, "narrowing")
    assert info.config.filter_subjects == [deleted]
    await nats_client.jetstream().publish(
        subjects.user_event(1, "user.updated"), b"{}", headers=outgoing_headers(msg_id="narrow-1")
    )
    info = await js.consumer_info(subjects.events_stream, "narrowing")
    assert info.num_pending == 0


def _consumer(
    js: JetStreamContext, subjects: Subjects, durable: str, handler: Any
) -> DurableConsumer:
    return DurableConsumer(
        js,
        stream=subjects.events_stream,
        durable=durable,
        filter_subjects=[subjects.user_events_of_type("user.deleted")],
        handler=handler,
        retry_delay=0.05,
    )


async def test_a_trickle_of_events_flows_through_standing_pull_requests(
    nats_client: NatsClient, namespace: str
) -> None:
    """Events one at a time, each published once the last is handled (the worst case for a
    fetch per batch: two pull requests and a "no messages" per event): they all arrive, in
    order, through a handful of pull requests."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    pulls = await nats_client.subscribe(
        f"$JS.API.CONSUMER.MSG.NEXT.{subjects.events_stream}.trickle"
    )
    received: asyncio.Queue[int] = asyncio.Queue()

    async def handler(envelope: Envelope, message: Msg) -> None:
        received.put_nowait(envelope.id)

    consumer = _consumer(js, subjects, "trickle", handler)
    await consumer.start()
    try:
        sent = []
        for _ in range(40):
            sent.append(await _publish(nats_client, subjects))
            assert await asyncio.wait_for(received.get(), 5) == sent[-1]
    finally:
        await consumer.stop()
        await pulls.unsubscribe()
    assert 1 <= pulls.pending_msgs <= 3, f"{pulls.pending_msgs} pull requests for 40 events"


async def test_stop_gives_back_delivered_events_at_once(
    nats_client: NatsClient, namespace: str
) -> None:
    """Stopping mid-batch: the event in hand is finished and acked, those delivered behind it
    go to the next consumer at once (NAKed), not after the 30 s ack wait."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    published = [await _publish(nats_client, subjects) for _ in range(10)]
    in_hand = asyncio.Event()
    release = asyncio.Event()
    first_handled: list[int] = []

    async def hold_the_first(envelope: Envelope, message: Msg) -> None:
        in_hand.set()
        await release.wait()
        first_handled.append(envelope.id)

    first = _consumer(js, subjects, "handover", hold_the_first)
    await first.start()
    await asyncio.wait_for(in_hand.wait(), 5)
    stopping = asyncio.create_task(first.stop())
    release.set()
    await stopping
    assert first_handled == published[:1]

    rest: list[int] = []
    all_in = asyncio.Event()

    async def collect(envelope: Envelope, message: Msg) -> None:
        rest.append(envelope.id)
        if len(rest) == 9:
            all_in.set()

    second = _consumer(js, subjects, "handover", collect)
    await second.start()
    try:
        await asyncio.wait_for(all_in.wait(), 5)  # well inside ack_wait (30 s)
    finally:
        await second.stop()
    assert sorted(rest) == sorted(published[1:])  # redeliveries come in no set order


async def test_a_deleted_consumer_is_made_again_and_consuming_goes_on(
    nats_client: NatsClient, namespace: str
) -> None:
    """The server turns the standing requests down (409 Consumer Deleted): the consumer is
    created again, as at start, and events flow; from the stream's start again, which
    idempotent handlers take as redeliveries."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    received: asyncio.Queue[int] = asyncio.Queue()

    async def handler(envelope: Envelope, message: Msg) -> None:
        received.put_nowait(envelope.id)

    consumer = _consumer(js, subjects, "phoenix", handler)
    await consumer.start()
    try:
        first = await _publish(nats_client, subjects)
        assert await asyncio.wait_for(received.get(), 5) == first
        await js.delete_consumer(subjects.events_stream, "phoenix")
        second = await _publish(nats_client, subjects)

        async def until_second() -> None:
            while (got := await received.get()) != second:
                assert got == first

        await asyncio.wait_for(until_second(), 5)
    finally:
        await consumer.stop()
    info = await js.consumer_info(subjects.events_stream, "phoenix")
    assert info.config.filter_subjects == [subjects.user_events_of_type("user.deleted")]


async def test_the_lag_shows_while_a_backlog_is_worked_through(
    nats_client: NatsClient, namespace: str
) -> None:
    """harmoniq_consumer_pending (the lag alert's input) is read during a catch-up, not only
    once the consumer has caught up."""
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    for _ in range(150):
        await _publish(nats_client, subjects)
    seen: list[float | None] = []
    second = asyncio.Event()

    async def handler(envelope: Envelope, message: Msg) -> None:
        seen.append(REGISTRY.get_sample_value("harmoniq_consumer_pending", {"consumer": "lagging"}))
        if len(seen) == 2:
            second.set()

    consumer = _consumer(js, subjects, "lagging", handler)
    await consumer.start()
    try:
        await asyncio.wait_for(second.wait(), 5)
    finally:
        await consumer.stop()
    assert seen[1] is not None and seen[1] >= 64, f"lag read after the first event: {seen[1]}"
