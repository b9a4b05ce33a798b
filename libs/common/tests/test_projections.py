"""The users projection consumer: auth's user events kept in a service's table, idempotently."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import asyncpg
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects, ensure_streams, outgoing_headers
from harmoniq_common.events import (
    EventPayload,
    UserCreated,
    UserDeleted,
    UserSummary,
    UserUpdated,
    encode_envelope,
)
from harmoniq_common.ids import Snowflake, SnowflakeGenerator
from harmoniq_common.platform import Platform
from harmoniq_common.projections import UsersProjection, users_projection_consumer
from harmoniq_common.testing.waiting import eventually
from harmoniq_common.uow import UnitOfWork

ALICE, BOB = Snowflake(101), Snowflake(202)


async def test_users_are_upserted_and_a_deleted_one_stays_anonymised(
    pool: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    await pool.execute(
        "CREATE TABLE users (id bigint PRIMARY KEY, username text NOT NULL, avatar_url text,"
        " deleted boolean NOT NULL DEFAULT false, updated_at timestamptz)"
    )
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    await ensure_streams(js, subjects)
    ids = SnowflakeGenerator(9)
    now = datetime.now(UTC)

    async def publish(user_id: int, payload: EventPayload, event_id: Snowflake) -> None:
        await js.publish(
            subjects.user_event(user_id, payload.event_type),
            encode_envelope(event_id, payload, now),
            headers=outgoing_headers(msg_id=f"{event_id}-{ids.next_id()}"),  # no JetStream dedup
        )

    deletion = ids.next_id()
    for user_id, payload, event_id in (
        (ALICE, UserCreated(user=UserSummary(id=ALICE, username="alice"), created_at=now), None),
        (
            ALICE,
            UserUpdated(
                user=UserSummary(id=ALICE, username="alicia", avatar_url="a.png"), status="online"
            ),
            None,
        ),
        (BOB, UserCreated(user=UserSummary(id=BOB, username="bob"), created_at=now), None),
        (BOB, UserDeleted(user_id=BOB, deleted_at=now), deletion),
        (BOB, UserDeleted(user_id=BOB, deleted_at=now), deletion),  # delivered again
        (BOB, UserUpdated(user=UserSummary(id=BOB, username="bob2"), status="online"), None),
    ):
        await publish(user_id, payload, event_id or ids.next_id())

    deleted: list[int] = []

    async def on_deleted(_tx: UnitOfWork, user_id: Snowflake) -> None:
        deleted.append(user_id)

    platform = cast(Platform, SimpleNamespace(pool=pool, js=js, subjects=subjects))
    projection = UsersProjection(deleted_username=lambda i: f"gone-{i}", touched_at="updated_at")
    consumer = users_projection_consumer(
        platform, projection, durable="probe-users", on_deleted=on_deleted
    )
    await consumer.start()
    try:

        async def all_acked() -> bool:
            info = await js.consumer_info(subjects.events_stream, "probe-users")
            return bool(
                info.num_pending == 0
                and info.num_ack_pending == 0
                and info.delivered.stream_seq == 6
            )

        await eventually(all_acked, what="the six events handled")
    finally:
        await consumer.stop()
    rows = {
        r["id"]: (r["username"], r["avatar_url"], r["deleted"], r["updated_at"] is not None)
        for r in await pool.fetch("SELECT * FROM users")
    }
    assert rows == {ALICE: ("alicia", "a.png", False, True), BOB: (f"gone-{BOB}", None, True, True)}
    assert deleted == [BOB]  # once, though the deletion arrived twice
    assert (
        await pool.fetchval("SELECT count(*) FROM processed_events WHERE consumer = 'probe-users'")
        == 5
    )
