"""Heartbeat and identify timeouts, the client frame rate limit, and a token nobody can check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from harmoniq_common.auth import RevocationMarks, TokenVerifier, load_public_keys_file
from harmoniq_common.testing.infra import free_port
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op

from gateway_client import GatewayClient

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


async def test_a_token_that_cannot_be_checked_closes_with_4000_to_try_again(
    make_user: MakeUser, start_gateway: StartGateway
) -> None:
    """Revocation is checked in Redis; when it cannot answer, the client is not told its
    (valid) token failed (4004, do not retry) but to try again (4000)."""
    user = await make_user()
    instance = await start_gateway()
    platform = instance.gateway.platform
    settings = platform.settings
    unreachable = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    working = platform.verifier
    platform.verifier = TokenVerifier(
        load_public_keys_file(settings.jwt_public_key_file),
        RevocationMarks(unreachable, settings.namespace),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    try:
        client = await GatewayClient.connect(instance.url)
        await client.send(Op.IDENTIFY, {"token": user.token})
        assert await client.closed() == (Close.UNKNOWN_ERROR, "try again")
    finally:
        platform.verifier = working
        await unreachable.aclose()
    again = await GatewayClient.connect(instance.url)
    assert (await again.identify(user.token))["d"]["user"]["id"] == str(user.id)
    await again.close()
