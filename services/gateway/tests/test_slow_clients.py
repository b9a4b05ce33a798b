"""A client that stops reading is disconnected once its unsent bytes pass the limit (4011, it
may resume), and meanwhile costs the others nothing: they keep getting every frame."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

import pytest
import websockets

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op
from harmoniq_gateway.sinks import DirectSink

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]
LIMIT = 64 * 1024


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"send_buffer_bytes": LIMIT}


async def _stalled_client(url: str, token: str) -> websockets.ClientConnection:
    """Identifies, then never reads again; a small receive buffer so the kernel holds little."""
    address = urlparse(url)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, (address.hostname, address.port))
    connection = await websockets.connect(url, sock=raw, max_queue=1, max_size=2**24)
    await connection.recv()  # HELLO
    await connection.send(f'{{"op": {Op.IDENTIFY}, "d": {{"token": "{token}"}}}}')
    return connection


async def test_a_client_that_stops_reading_is_closed_too_slow_and_the_others_miss_nothing(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    instance = await start_gateway()
    reader = await GatewayClient.connect(instance.url)
    await reader.identify(owner.token)
    stalled = await _stalled_client(instance.url, owner.token)
    sessions = instance.gateway.sessions
    async with asyncio.timeout(10):  # both identified, and their frames written directly
        while len(sessions) < 2 or not all(
            isinstance(s.sink, DirectSink) for s in sessions.values()
        ):
            # Polling the gateway's state (no event tells a test a sink attached); heartbeats
            # as the pause were over the frame budget (4008) when identifying took a while.
            await asyncio.sleep(0.01)
    slow = next(s for s in sessions.values() if s.id != reader.session_id)
    content = "x" * 3900
    sent = 0
    while slow.closing is None:
        assert sent < 2000, "the stalled client was never closed"
        await send(messages, owner, channel_id, content)
        sent += 1
        frame = await reader.dispatch("message.create")
        assert frame["d"]["message"]["content"] == content
    assert slow.closing == (Close.TOO_SLOW, "too far behind; resume")
    assert sent * len(content) >= LIMIT
    # It reads again: what was written before the close arrives, then the close itself.
    frames = await _read_until_closed(stalled)
    assert frames[-1] == Close.TOO_SLOW
    assert len(frames) > 1
    await send(messages, owner, channel_id, "still live")
    assert (await reader.dispatch("message.create"))["d"]["message"]["content"] == "still live"
    await reader.close()


async def _read_until_closed(connection: websockets.ClientConnection) -> list[Any]:
    """Frames until the close; its code last."""
    frames: list[Any] = []
    async with asyncio.timeout(20):
        try:
            while True:
                frames.append(await connection.recv())
        except websockets.ConnectionClosed as closed:
            frames.append(closed.rcvd.code if closed.rcvd else 1006)
    return frames
