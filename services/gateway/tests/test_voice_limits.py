"""Signalling is rate-limited per session (an error event, not a close) and size-limited."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op

from gateway_client import GatewayClient
from guilds_testing import Client, make_crew
from voice_testing import voice_channel

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"voice_signals_per_window": 3, "voice_signal_window_seconds": 60.0}


async def test_signals_beyond_the_budget_are_refused_and_oversized_ones_close(
    guilds: Client, voice: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    crew = await make_crew(guilds, make_user)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    gateway = await start_gateway()
    alice, bob = await GatewayClient.connect(gateway.url), await GatewayClient.connect(gateway.url)
    await alice.identify(crew.member.token)
    await bob.identify(crew.admin.token)
    for client in (alice, bob):
        await client.send(Op.VOICE_STATE_UPDATE, {"channel_id": lounge["id"]})
    joined: set[str] = set()
    while len(joined) < 2:  # both are in before anyone signals
        joined.add((await alice.dispatch("voice.state_update"))["d"]["user_id"])
    signal = {"to_user_id": str(crew.admin.id), "kind": "candidate", "candidate": "c"}
    for n in range(4):
        await alice.send(Op.VOICE_SIGNAL, {**signal, "nonce": f"n{n}"})
    for _ in range(3):
        assert (await bob.dispatch("voice.signal"))["d"]["candidate"] == "c"
    refused = (await alice.dispatch("voice.error"))["d"]
    assert (refused["code"], refused["nonce"]) == ("rate_limited", "n3")
    assert "voice.signal" not in await bob.types_until_ack()

    # An SDP over 12,000 characters is not a signal: the frame is refused (4002).
    await bob.send(
        Op.VOICE_SIGNAL, {"to_user_id": str(crew.member.id), "kind": "offer", "sdp": "v" * 12_001}
    )
    code, _ = await bob.closed()
    assert code == Close.DECODE_ERROR
    await alice.close()
