"""Frames that break the protocol: too large (refused before buffering), too deep, bad op-8
cursors (4002, not 4000); and heartbeats before IDENTIFY (answered, no extra time)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op, ProtocolError, Wire
from harmoniq_gateway.settings import GatewaySettings

from .conftest import deployed_uvicorn_options
from gateway_client import GatewayClient
from guilds_testing import Client, create_server

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"identify_timeout_seconds": 1.0}


def test_uvicorn_refuses_frames_over_the_protocols_limit() -> None:
    """uvicorn buffers a whole frame before the app sees it (16 MiB by default): as deployed,
    its limit is the protocol's."""
    assert deployed_uvicorn_options()["ws_max_size"] == GatewaySettings().max_frame_bytes


def test_the_app_refuses_a_large_frame_another_server_let_through() -> None:
    wire = Wire("json", None, GatewaySettings().max_frame_bytes)
    with pytest.raises(ProtocolError) as caught:
        wire.decode("x" * 20_000)
    assert caught.value.close == Close.PAYLOAD_TOO_LARGE


async def test_an_oversized_frame_closes_1009_before_identify(start_gateway: StartGateway) -> None:
    client = await GatewayClient.connect((await start_gateway()).url)
    # The server closes as soon as it reads the frame's length, while this is still sending.
    with contextlib.suppress(websockets.ConnectionClosed):
        await client.connection.send("x" * (15 << 20))
    assert (await client.closed())[0] == 1009


async def test_a_deeply_nested_frame_is_a_decode_error(start_gateway: StartGateway) -> None:
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.connection.send('{"op": 1, "d": ' + "[" * 5000 + "]" * 5000 + "}")
    assert (await client.closed())[0] == Close.DECODE_ERROR


async def test_invalid_utf8_in_a_binary_json_frame_is_a_decode_error(
    start_gateway: StartGateway,
) -> None:
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.connection.send(b'{"op": 1, "d": "\xff\xfe"}')
    assert (await client.closed())[0] == Close.DECODE_ERROR


@pytest.mark.parametrize("cursor", ["99999999999999999999", "1\n", "0", "-1"])
async def test_a_members_cursor_redis_cannot_take_is_a_decode_error(
    make_user: MakeUser, guilds: Client, start_gateway: StartGateway, cursor: str
) -> None:
    """20 digits past 2**64 reached Redis's HSCAN, whose error closed the socket with 4000."""
    user = await make_user()
    server = await create_server(guilds, user)
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.identify(user.token)
    await client.send(Op.SUBSCRIBE_MEMBERS, {"server_id": server["id"], "cursor": cursor})
    assert (await client.closed())[0] == Close.DECODE_ERROR


async def test_heartbeats_before_identify_are_acknowledged_but_buy_no_time(
    start_gateway: StartGateway,
) -> None:
    """The protocol promises op 11 for every heartbeat; before IDENTIFY they must not push
    the deadline (1 s here), or a client could hold a socket unauthenticated for ever."""
    client = await GatewayClient.connect((await start_gateway()).url)
    started = time.monotonic()
    acks = 0
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await client.send(Op.HEARTBEAT, None)
            assert (await client.receive(timeout=5))["op"] == Op.HEARTBEAT_ACK
            acks += 1
            await asyncio.sleep(0.2)  # pacing the client's heartbeats, not waiting for an event
    assert (await client.closed())[0] == Close.SESSION_TIMED_OUT
    assert acks >= 3
    assert time.monotonic() - started < 1.9


@pytest.mark.parametrize(
    "d",
    [
        {"channel_id": "1\u0000"},
        {"channel_id": "99999999999999999999"},
        {"channel_id": "0"},
        {"channel_id": "1", "server_id": "2"},  # unknown field
        {"channel_id": "x" * 10_000},
        ["1"],
        {},
    ],
)
async def test_a_bad_typing_payload_is_a_decode_error(
    make_user: MakeUser, start_gateway: StartGateway, d: Any
) -> None:
    """Op 4 now reaches the DM lookup too: whatever it cannot take is refused before it."""
    user = await make_user()
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.identify(user.token)
    await client.send(Op.TYPING, d)
    assert (await client.closed())[0] == Close.DECODE_ERROR
