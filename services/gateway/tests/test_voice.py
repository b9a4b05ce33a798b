"""Voice over the gateway: op 12 joins and leaves, voice.state_update reaches the channel's
viewers on every instance, op 13 relays signals between peers of one channel only, READY
carries the voice states, and a session that ends leaves voice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Op

from gateway_client import GatewayClient
from guilds_testing import Client, make_crew
from voice_testing import voice_channel

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


async def _state_of(client: GatewayClient, user: TestUser, timeout: float = 10.0) -> dict[str, Any]:
    while (frame := await client.dispatch("voice.state_update", timeout))["d"]["user_id"] != str(
        user.id
    ):
        pass
    data: dict[str, Any] = frame["d"]
    return data


async def test_peers_join_signal_each_other_and_leave_across_instances(
    guilds: Client, voice: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    crew = await make_crew(guilds, make_user)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    first, second = await start_gateway(), await start_gateway()
    alice = await GatewayClient.connect(first.url)
    await alice.identify(crew.member.token)
    bob = await GatewayClient.connect(second.url)
    await bob.identify(crew.admin.token)
    carol = await GatewayClient.connect(first.url)
    await carol.identify(crew.moderator.token)

    await alice.send(Op.VOICE_STATE_UPDATE, {"channel_id": lounge["id"], "self_mute": True})
    joined = await _state_of(bob, crew.member)
    assert joined["channel_id"] == lounge["id"] and joined["self_mute"] is True
    assert joined["session_id"] == alice.session_id
    assert (await _state_of(alice, crew.member))["channel_id"] == lounge["id"]
    await bob.send(Op.VOICE_STATE_UPDATE, {"channel_id": lounge["id"]})
    assert (await _state_of(alice, crew.admin))["session_id"] == bob.session_id

    # Alice (instance 1) -> Bob (instance 2) and back, with who sent it.
    offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
    await alice.send(
        Op.VOICE_SIGNAL, {"to_user_id": str(crew.admin.id), "kind": "offer", "sdp": offer}
    )
    got = (await bob.dispatch("voice.signal"))["d"]
    assert (got["from_user_id"], got["from_session_id"], got["sdp"]) == (
        str(crew.member.id),
        alice.session_id,
        offer,
    )
    await bob.send(
        Op.VOICE_SIGNAL,
        {
            "to_user_id": str(crew.member.id),
            "kind": "candidate",
            "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ relay",
            "sdp_mid": "0",
            "sdp_mline_index": 0,
        },
    )
    candidate = (await alice.dispatch("voice.signal"))["d"]
    assert candidate["kind"] == "candidate" and candidate["from_session_id"] == bob.session_id

    # Carol is not in the channel: refused with an error event, and Bob hears nothing.
    await carol.send(
        Op.VOICE_SIGNAL,
        {"to_user_id": str(crew.admin.id), "kind": "offer", "sdp": offer, "nonce": "n1"},
    )
    error = (await carol.dispatch("voice.error"))["d"]
    assert (error["op"], error["code"], error["nonce"]) == (Op.VOICE_SIGNAL, "not_in_voice", "n1")
    assert "voice.signal" not in await bob.types_until_ack()
    # A refused join names the reason too.
    text = next(
        c
        for c in (await guilds.get(crew.url("/channels"), headers=crew.owner.headers)).json()
        if c["kind"] == "text"
    )
    await carol.send(Op.VOICE_STATE_UPDATE, {"channel_id": text["id"], "nonce": "n2"})
    refused = (await carol.dispatch("voice.error"))["d"]
    assert (refused["code"], refused["nonce"]) == ("not_a_voice_channel", "n2")

    # READY carries who is in voice.
    dave = await GatewayClient.connect(second.url)
    ready = await dave.identify(crew.owner.token)
    in_voice = {s["user_id"]: s["channel_id"] for s in ready["d"]["voice_states"]}
    assert in_voice == {str(crew.member.id): lounge["id"], str(crew.admin.id): lounge["id"]}

    # Alice's connection ends: she leaves voice at once, and Bob sees it.
    await alice.close()
    left = await _state_of(bob, crew.member)
    assert left["channel_id"] is None and left["previous_channel_id"] == lounge["id"]
    await bob.send(Op.VOICE_STATE_UPDATE, {"channel_id": None})
    assert (await _state_of(dave, crew.admin))["channel_id"] is None
    for client in (bob, carol, dave):
        await client.close()


async def test_a_dead_gateways_users_leave_voice_when_their_lease_runs_out(
    guilds: Client, voice: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    """An instance that goes away renews nothing and says nothing (as one killed): its users
    leave voice within the voice service's lease (10 s here), seen from another instance.
    While it lived, its renewals kept them in well past the lease."""
    crew = await make_crew(guilds, make_user)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    doomed, survivor = await start_gateway(), await start_gateway()
    alice = await GatewayClient.connect(doomed.url)
    await alice.identify(crew.member.token)
    bob = await GatewayClient.connect(survivor.url)
    await bob.identify(crew.admin.token)
    await alice.send(Op.VOICE_STATE_UPDATE, {"channel_id": lounge["id"]})
    assert (await _state_of(bob, crew.member))["channel_id"] == lounge["id"]
    began = asyncio.get_running_loop().time()
    # 12 s alive: longer than the lease, so only renewals explain that she is still there.
    assert "voice.state_update" not in {f["t"] for f in await _frames_for(bob, seconds=12)}
    await doomed.stop()  # drains: no "session ended", as if it had died
    stopped = asyncio.get_running_loop().time()
    left = await _state_of(bob, crew.member, timeout=25)  # the lease, the sweep, the outbox
    assert left["channel_id"] is None and left["reason"] == "timed_out"
    # Within the lease (10 s) after the last renewal, plus the sweep and the event's way out
    # (generous: this 2-core machine runs other suites meanwhile).
    assert asyncio.get_running_loop().time() - stopped < 25
    assert stopped - began > 12
    await bob.close()


async def _frames_for(client: GatewayClient, seconds: float) -> list[dict[str, Any]]:
    """Every frame the client receives in the next ``seconds`` (shorter than a heartbeat
    interval: nothing to send meanwhile)."""
    frames: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            frames.append(await client.receive(timeout=min(left, 5)))
        except TimeoutError:
            continue
    return frames
