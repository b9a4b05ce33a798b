"""Fan-out's no-endpoints cache (domain/quiet_servers.py) against real Postgres, Redis and NATS:
a server without endpoints costs one query however many events it has; an endpoint created,
re-enabled or changed, on this instance or another, gets the next event; and an answer whose
notification never came is believed for the TTL and no longer.

Queries are counted by wrapping ``store.enabled_in`` (the one read fan-out makes of a server's
endpoints; the wrapper still runs it), per server, so events of other servers in the
background cannot blur the figure. Two instances share one database and namespace, as two
replicas do; both allow loopback targets, so a delivery may be sent by either. An app runs in
its test client's own thread and event loop: its domain is called there (:func:`in_app`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import msgspec
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from harmoniq_bots.app import create_app
from harmoniq_bots.domain.outgoing import Outgoing
from harmoniq_bots.settings import BotsSettings
from harmoniq_bots.store import outgoing as store
from harmoniq_common.events import Envelope
from harmoniq_common.ids import Snowflake
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from bots_testing import BOTS_SCHEMA
from guilds_testing import Client, Crew, make_crew, text_channel
from messages_testing import send
from webhook_receiver import Receiver

MakeUser = Callable[..., Awaitable[TestUser]]
T = TypeVar("T")
# Longer than any test: an answer that changes within it was invalidated, not expired.
LONG_TTL = 600.0


def outgoing_of(client: Client) -> Outgoing:
    outgoing: Outgoing = client.app.state.bots_domain.outgoing
    return outgoing


async def in_app(client: Client, call: Callable[[], Awaitable[T]]) -> T:
    """``call()`` awaited in the app's event loop, as its consumer would run it."""
    return await asyncio.to_thread(client.blocking_portal.call, call)


async def fan_out(client: Client, server_id: int, envelope: Envelope) -> int:
    return await in_app(client, lambda: outgoing_of(client).fan_out(server_id, envelope))


async def is_quiet(client: Client, server_id: int) -> bool:
    async def look() -> bool:
        return outgoing_of(client).quiet.is_quiet(server_id)

    return await in_app(client, look)


def event(event_type: str = "message.create", data: dict[str, Any] | None = None) -> Envelope:
    return Envelope(
        id=Snowflake(secrets.randbits(62)),
        type=event_type,
        occurred_at=datetime.now(UTC),
        data=msgspec.Raw(json.dumps(data or {}).encode()),
    )


def cache_hits() -> float:
    return (
        REGISTRY.get_sample_value(
            "harmoniq_bots_outgoing_endpoint_lookups_total", {"source": "cache"}
        )
        or 0.0
    )


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """Calls of ``store.enabled_in`` per server id, from now on."""
    calls: Counter[int] = Counter()
    real = store.enabled_in

    async def counted(conn: asyncpg.Connection, server_id: int) -> list[store.EndpointRow]:
        calls[int(server_id)] += 1
        return await real(conn, server_id)

    monkeypatch.setattr(store, "enabled_in", counted)
    return calls


async def bots_instance(service_app: ServiceApp, ttl: float) -> Client:
    return await service_app(
        create_app,
        BotsSettings,
        BOTS_SCHEMA,
        outgoing_allow_private_targets=True,
        outgoing_no_endpoints_ttl_seconds=ttl,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def pair(
    service_app: ServiceApp, guilds: Client, messages: Client
) -> AsyncIterator[tuple[Client, Client]]:
    """Two bots instances on one database and namespace (guilds and messages up first)."""
    first = await bots_instance(service_app, LONG_TTL)
    settings = first.app.state.platform.settings
    # Its own instance id: its own snowflake worker lease.
    second_settings = msgspec.structs.replace(settings, instance_id=f"{settings.instance_id}-b")
    async with AsyncTestClient(create_app(second_settings)) as second:
        yield first, second


async def cache_as_empty(client: Client, server_id: int) -> bool:
    """One fan-out, then whether the instance now holds "no endpoints" for the server."""
    assert await fan_out(client, server_id, event()) == 0
    return await is_quiet(client, server_id)


def endpoints_url(crew: Crew) -> str:
    return f"/api/v1/servers/{crew.id}/outgoing-webhooks"


async def test_a_server_without_endpoints_costs_one_query_for_many_events(
    pair: tuple[Client, Client], queries: Counter[int]
) -> None:
    outgoing = outgoing_of(pair[0])
    server_id = int(pair[0].app.state.platform.new_id())  # no endpoint was ever made in it
    hits_before = cache_hits()

    async def many() -> list[int]:
        return [await outgoing.fan_out(server_id, event()) for _ in range(200)]

    assert await in_app(pair[0], many) == [0] * 200
    assert queries[server_id] == 1
    assert cache_hits() - hits_before >= 199  # others' events may hit it meanwhile, too


async def test_an_endpoint_created_on_a_server_cached_as_empty_gets_the_next_event(
    pair: tuple[Client, Client], guilds: Client, messages: Client, make_user: MakeUser
) -> None:
    first = pair[0]
    crew = await make_crew(guilds, make_user)
    channel = await text_channel(guilds, crew.server, crew.owner)
    for instance in pair:  # whichever fans the next event out has it cached as empty
        assert await cache_as_empty(instance, crew.server_id)
    receiver = Receiver()
    try:
        response = await first.post(
            endpoints_url(crew),
            json={"url": receiver.url, "events": ["message.create"]},
            headers=crew.owner.headers,
        )
        assert response.status_code == 201, response.text
        assert not await is_quiet(first, crew.server_id)  # forgotten before it answered
        said = await send(messages, crew.owner, channel["id"], "the very next event")
        delivered = json.loads((await receiver.next()).body)
        assert delivered["type"] == "message.create"
        assert delivered["data"]["message"]["id"] == said["id"]
    finally:
        receiver.close()


async def test_a_change_on_another_instance_reaches_this_ones_cache_over_nats(
    pair: tuple[Client, Client], guilds: Client, make_user: MakeUser
) -> None:
    first, second = pair
    crew = await make_crew(guilds, make_user)
    server_id = crew.server_id
    assert await cache_as_empty(first, server_id)
    receiver = Receiver()
    try:
        # Created on the second instance: the first hears of it over NATS.
        response = await second.post(
            endpoints_url(crew),
            json={"url": receiver.url, "events": ["member.updated"]},
            headers=crew.owner.headers,
        )
        assert response.status_code == 201, response.text
        endpoint = response.json()

        async def forgotten() -> bool:
            return not await is_quiet(first, server_id)

        await eventually(forgotten, timeout=5, what="the first instance forgot the server")
        sent = event("member.updated")
        assert await fan_out(first, server_id, sent) == 1
        assert json.loads((await receiver.next()).body)["id"] == str(sent.id)

        # Disabled on the second: the first finds none and caches that ...
        patched = await second.patch(
            f"{endpoints_url(crew)}/{endpoint['id']}",
            json={"enabled": False},
            headers=crew.owner.headers,
        )
        assert patched.status_code == 200, patched.text
        await eventually(
            lambda: cache_as_empty(first, server_id), timeout=5, what="cached as empty again"
        )
        # ... until the second re-enables it.
        patched = await second.patch(
            f"{endpoints_url(crew)}/{endpoint['id']}",
            json={"enabled": True},
            headers=crew.owner.headers,
        )
        assert patched.status_code == 200, patched.text
        await eventually(forgotten, timeout=5, what="the first instance forgot it again")
        sent = event("member.updated")
        assert await fan_out(first, server_id, sent) == 1
        assert json.loads((await receiver.next()).body)["id"] == str(sent.id)
    finally:
        receiver.close()


async def test_without_its_notification_a_change_is_seen_once_the_ttl_is_over(
    service_app: ServiceApp, guilds: Client, queries: Counter[int]
) -> None:
    """On a server of no events but ours (a made-up id), so the queries counted are ours."""
    ttl = 2.0  # the default
    bots = await bots_instance(service_app, ttl)
    platform = bots.app.state.platform
    server_id = int(platform.new_id())
    started = time.monotonic()  # the answer below is remembered after this: it expires later
    assert await cache_as_empty(bots, server_id)
    assert queries[server_id] == 1

    # An endpoint committed with no notification (as if its instance died before publishing).
    async def insert_unannounced() -> store.EndpointRow:
        async with platform.pool.acquire() as conn:
            return await store.insert(
                conn,
                store.EndpointRow(
                    id=platform.new_id(),
                    server_id=Snowflake(server_id),
                    creator_id=platform.new_id(),
                    viewer_id=platform.new_id(),
                    url="http://127.0.0.1:9/never-reached",
                    event_types=["member.updated"],
                    secret=secrets.token_urlsafe(32),
                    enabled=True,
                    failures=0,
                    disabled_at=None,
                    created_at=datetime.now(UTC),
                ),
            )

    await in_app(bots, insert_unannounced)

    async def asked_again() -> bool:
        await fan_out(bots, server_id, event("member.updated"))
        return queries[server_id] == 2

    await eventually(asked_again, timeout=ttl + 10, what="Postgres asked again")
    assert time.monotonic() - started >= ttl  # not before the TTL
    # It has an endpoint now (its viewer, made up too, sees nothing): never cached again.
    assert await fan_out(bots, server_id, event("member.updated")) == 0
    assert queries[server_id] == 3
