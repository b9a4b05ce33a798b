"""Many sessions arriving at once share a small Redis pool: they wait for a connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.metrics import RENEWAL_FAILURES

from gateway_client import GatewayClient
from guilds_testing import Client, create_server

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    # redis-py's own pool would fail the third concurrent command (MaxConnectionsError), and
    # the client would see its IDENTIFY refused.
    return {"redis_pool_max": 2, "redis_pool_timeout_seconds": 20}


async def test_a_burst_of_identifies_all_get_ready_on_a_pool_of_two(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    url = (await start_gateway()).url
    clients = await asyncio.gather(*(GatewayClient.connect(url) for _ in range(40)))
    readies = await asyncio.gather(*(client.identify(owner.token) for client in clients))
    assert {r["d"]["servers"][0]["server"]["id"] for r in readies} == {server["id"]}
    assert len({r["d"]["session_id"] for r in readies}) == 40
    # heartbeats (two Redis writes each) at once, all acknowledged
    await asyncio.gather(*(client.frames_until_ack() for client in clients))
    await asyncio.gather(*(client.close() for client in clients))


async def test_heartbeats_are_acked_and_renewed_while_delivery_holds_the_whole_pool(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway, namespace: str
) -> None:
    """Issue #15: a delivery backlog holding every connection of the gateway's Redis pool (two
    here) must not hold up liveness: heartbeats renew the resume record on their own pool."""
    owner = await make_user("hana")
    await create_server(guilds, owner)
    instance = await start_gateway()
    client = await GatewayClient.connect(instance.url)
    await client.identify(owner.token)
    gateway = instance.gateway
    record = f"{namespace}:gw:session:{client.session_id}"
    pool = gateway.platform.redis.connection_pool
    held = [await pool.get_connection() for _ in range(2)]  # delivery work has them all
    try:
        for _ in range(3):
            await gateway.liveness.expire(record, 5)
            async with asyncio.timeout(5):
                await client.frames_until_ack()
                # A connection reads its frames in order: this ack means the heartbeat before
                # it has finished its Redis work (on the liveness pool: the other is held).
                await client.frames_until_ack()
            assert await gateway.liveness.ttl(record) > 5
    finally:
        for connection in held:
            await pool.release(connection)
    assert gateway.liveness.connection_pool is not pool
    await client.close()


@pytest.mark.parametrize(
    "gateway_overrides",
    [{"liveness_redis_pool_max": 1, "redis_pool_timeout_seconds": 0.3}],
)
async def test_heartbeats_that_cannot_renew_keep_their_connections(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway, namespace: str
) -> None:
    """Issue #15: 168 of 1,000 healthy sockets were closed with 4000 when their heartbeats,
    due together, waited past the pool's timeout. Heartbeats are renewed in batches now, and a
    renewal Redis did not take is counted and retried by the next heartbeat, never a close."""
    owner = await make_user("ines")
    await create_server(guilds, owner)
    instance = await start_gateway()
    gateway = instance.gateway
    clients = await asyncio.gather(*(GatewayClient.connect(instance.url) for _ in range(20)))
    await asyncio.gather(*(client.identify(owner.token) for client in clients))
    failures = RENEWAL_FAILURES._value.get()
    pool = gateway.liveness.connection_pool
    held = await pool.get_connection()  # the only one: every renewal now times out
    try:
        async with asyncio.timeout(10):
            await asyncio.gather(*(client.frames_until_ack() for client in clients))
            await asyncio.gather(*(client.frames_until_ack() for client in clients))
    finally:
        await pool.release(held)
    assert RENEWAL_FAILURES._value.get() > failures
    record = f"{namespace}:gw:session:{clients[0].session_id}"
    await gateway.liveness.expire(record, 5)
    async with asyncio.timeout(10):
        await asyncio.gather(*(client.frames_until_ack() for client in clients))
        await asyncio.gather(*(client.frames_until_ack() for client in clients))
    assert await gateway.liveness.ttl(record) > 5
    await asyncio.gather(*(client.close() for client in clients))
