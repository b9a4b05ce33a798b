"""Heartbeat and identify timeouts, and the client frame rate limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op
from harmoniq_gateway.testing import GatewayClient

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {
        "heartbeat_interval_ms": 400,
        "client_events_per_window": 5,
        "identify_timeout_seconds": 1.0,
    }


async def test_a_silent_connection_is_closed(
    make_user: MakeUser, start_gateway: StartGateway
) -> None:
    user = await make_user()
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.identify(user.token)
    # No heartbeat for 1.5 intervals (600 ms here).
    assert (await client.closed())[0] == Close.SESSION_TIMED_OUT


async def test_never_identifying_is_closed(start_gateway: StartGateway) -> None:
    client = await GatewayClient.connect((await start_gateway()).url)
    assert (await client.closed())[0] == Close.SESSION_TIMED_OUT


async def test_too_many_frames_close_with_rate_limited(
    make_user: MakeUser, start_gateway: StartGateway
) -> None:
    user = await make_user()
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.identify(user.token)
    for _ in range(6):
        await client.send(Op.HEARTBEAT, client.seq)
    assert (await client.closed())[0] == Close.RATE_LIMITED
