"""The gateway's own metrics at /metrics: sessions, events, closes by code."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually
from harmoniq_gateway.protocol import Close, Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"client_events_per_window": 5}


async def _metric(base: str, name: str) -> float:
    """One sample's value (0 when absent). Instances in this process share one registry, so
    tests compare before and after."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{base}/metrics")).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_sessions_events_and_closes_are_counted(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    url = (await start_gateway()).url
    base = url.replace("ws://", "http://").removesuffix("/gateway")
    sessions = await _metric(base, "harmoniq_gateway_sessions")
    events = await _metric(base, "harmoniq_gateway_events_total")
    lags = await _metric(base, "harmoniq_gateway_dispatch_lag_seconds_count")
    limited = 'harmoniq_gateway_closes_total{code="4008"}'
    closes = await _metric(base, limited)

    client = await GatewayClient.connect(url)
    await client.identify(owner.token)
    assert await _metric(base, "harmoniq_gateway_sessions") == sessions + 1
    await send(messages, owner, channel_id, "counted")
    await client.dispatch("message.create")
    assert await _metric(base, "harmoniq_gateway_events_total") > events
    # the lag from the stream to the sockets, the figure the HarmoniqGatewayBehind alert reads
    assert await _metric(base, "harmoniq_gateway_dispatch_lag_seconds_count") > lags

    for _ in range(6):  # past this module's frame budget (5)
        await client.send(Op.HEARTBEAT, client.seq)
    assert (await client.closed())[0] == Close.RATE_LIMITED

    async def closed_and_counted() -> bool:
        return (
            await _metric(base, limited) == closes + 1
            and await _metric(base, "harmoniq_gateway_sessions") == sessions
        )

    await eventually(closed_and_counted, what="the close counted and the session gone")
