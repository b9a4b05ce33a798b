"""The test that matters for voice: two real WebRTC peers (aiortc) talk through the real coturn.

Each logs in through nginx, joins the voice channel over the gateway (two instances: the peers
land on different ones), fetches ICE servers from the voice service, and they exchange offer
and answer through ``voice.signal`` with ``iceTransportPolicy = "relay"``: their only
candidates are relay addresses on coturn, so every byte of the data channel flowing both ways
crossed the TURN server. coturn refuses expired and forged credentials, and a third user
outside the channel cannot signal either peer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import pytest
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from harmoniq_gateway.protocol import Op
from harmoniq_voice.domain.stun import StunError, TurnClient
from harmoniq_voice.domain.turn import mint

from fleet import Fleet
from gateway_client import GatewayClient


@pytest.fixture(scope="module")
def fleet_instances() -> dict[str, int]:
    return {"gateway": 2}


def _register(http: httpx.Client, name: str) -> dict[str, Any]:
    body = http.post(
        "/api/v1/auth/register",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "correct horse battery",
        },
    )
    assert body.status_code == 201, body.text
    result: dict[str, Any] = body.json()
    return result


def _auth(user: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['access_token']}"}


def _relay_only(ice: dict[str, Any]) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in ice["ice_servers"]
    ]
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)


async def _signal(client: GatewayClient, kind: str) -> dict[str, Any]:
    while (frame := await client.dispatch("voice.signal", timeout=20))["d"]["kind"] != kind:
        pass
    data: dict[str, Any] = frame["d"]
    return data


async def _joined(client: GatewayClient, user_id: str) -> dict[str, Any]:
    while True:
        frame = await client.dispatch("voice.state_update")
        if frame["d"]["user_id"] == user_id and frame["d"]["channel_id"]:
            data: dict[str, Any] = frame["d"]
            return data


def _candidate_types(sdp: str) -> set[str]:
    return {line.split(" typ ")[1].split()[0] for line in sdp.splitlines() if " typ " in line}


async def test_two_aiortc_peers_talk_through_coturn_after_signalling_over_the_gateway(
    fleet: Fleet, http: httpx.Client
) -> None:
    assert fleet.turn is not None, "coturn is missing: bash deploy/install-system-deps.sh"
    tag = secrets.token_hex(3)
    alice, bob, carol = (_register(http, f"{n}{tag}") for n in ("alice", "bob", "carol"))
    ids = {n: u["user"]["id"] for n, u in (("alice", alice), ("bob", bob), ("carol", carol))}
    server = http.post("/api/v1/servers", json={"name": "Call"}, headers=_auth(alice)).json()
    voice = http.post(
        f"/api/v1/servers/{server['id']}/channels",
        json={"name": "Voice", "kind": "voice", "user_limit": 2},
        headers=_auth(alice),
    ).json()
    other = http.post(
        f"/api/v1/servers/{server['id']}/channels",
        json={"name": "Elsewhere", "kind": "voice"},
        headers=_auth(alice),
    ).json()
    invite = http.post(f"/api/v1/channels/{voice['id']}/invites", json={}, headers=_auth(alice))
    for joiner in (bob, carol):
        joined = http.post(f"/api/v1/invites/{invite.json()['code']}", headers=_auth(joiner))
        assert joined.status_code == 200, joined.text

    url = fleet.url.replace("http://", "ws://") + "/gateway"
    a, b, c = [await GatewayClient.connect(url) for _ in range(3)]
    await a.identify(alice["access_token"])
    await b.identify(bob["access_token"])
    await c.identify(carol["access_token"])

    began = time.monotonic()
    await a.send(Op.VOICE_STATE_UPDATE, {"channel_id": voice["id"]})
    await b.send(Op.VOICE_STATE_UPDATE, {"channel_id": voice["id"]})
    assert (await _joined(a, ids["bob"]))["session_id"] == b.session_id
    assert (await _joined(b, ids["alice"]))["session_id"] == a.session_id
    # The channel holds two: the third is refused (carol has no MOVE_MEMBERS).
    await c.send(Op.VOICE_STATE_UPDATE, {"channel_id": voice["id"], "nonce": "full"})
    assert (await c.dispatch("voice.error"))["d"]["code"] == "channel_full"

    ice_a = http.get("/api/v1/voice/ice-servers", headers=_auth(alice)).json()
    ice_b = http.get("/api/v1/voice/ice-servers", headers=_auth(bob)).json()
    caller, callee = RTCPeerConnection(_relay_only(ice_a)), RTCPeerConnection(_relay_only(ice_b))
    heard: dict[str, asyncio.Future[str]] = {
        who: asyncio.get_running_loop().create_future() for who in ("alice", "bob")
    }

    channel = caller.createDataChannel("talk")

    @channel.on("open")
    def say_hello() -> None:
        channel.send("hello from alice")

    @channel.on("message")
    def alice_hears(message: str) -> None:
        if not heard["alice"].done():
            heard["alice"].set_result(message)

    @callee.on("datachannel")
    def bob_answers(incoming: RTCDataChannel) -> None:
        @incoming.on("message")
        def bob_hears(message: str) -> None:
            if not heard["bob"].done():
                heard["bob"].set_result(message)
                incoming.send("hello from bob")

    try:
        # aiortc gathers every candidate before the description is set (no trickle): the
        # relay candidates, one allocation each on coturn, travel inside the SDP.
        await caller.setLocalDescription(await caller.createOffer())
        offer = caller.localDescription
        assert _candidate_types(offer.sdp) == {"relay"}
        await a.send(Op.VOICE_SIGNAL, {"to_user_id": ids["bob"], "kind": "offer", "sdp": offer.sdp})
        got = await _signal(b, "offer")
        assert (got["from_user_id"], got["from_session_id"]) == (ids["alice"], a.session_id)
        await callee.setRemoteDescription(RTCSessionDescription(got["sdp"], "offer"))
        await callee.setLocalDescription(await callee.createAnswer())
        answer = callee.localDescription
        assert _candidate_types(answer.sdp) == {"relay"}
        await b.send(
            Op.VOICE_SIGNAL, {"to_user_id": ids["alice"], "kind": "answer", "sdp": answer.sdp}
        )
        got = await _signal(a, "answer")
        assert got["from_session_id"] == b.session_id
        await caller.setRemoteDescription(RTCSessionDescription(got["sdp"], "answer"))

        assert await asyncio.wait_for(heard["bob"], 30) == "hello from alice"
        assert await asyncio.wait_for(heard["alice"], 10) == "hello from bob"
        join_to_media = time.monotonic() - began
        print(f"\nvoice: join -> data both ways through coturn in {join_to_media:.2f} s")
        # What flowed went through the relay: the pair ICE chose is two relay candidates.
        for pc in (caller, callee):
            assert pc.connectionState == "connected"
            pair = pc.sctp.transport.transport._connection._nominated  # type: ignore[union-attr]
            assert {p.local_candidate.type for p in pair.values()} == {"relay"}
    finally:
        await caller.close()
        await callee.close()

    # Carol, outside the channel, cannot signal them; nor from another channel.
    await c.send(Op.VOICE_SIGNAL, {"to_user_id": ids["bob"], "kind": "offer", "sdp": "v=0"})
    assert (await c.dispatch("voice.error"))["d"]["code"] == "not_in_voice"
    await c.send(Op.VOICE_STATE_UPDATE, {"channel_id": other["id"]})
    assert (await _joined(c, ids["carol"]))["channel_id"] == other["id"]
    await c.send(Op.VOICE_SIGNAL, {"to_user_id": ids["bob"], "kind": "offer", "sdp": "v=0"})
    assert (await c.dispatch("voice.error"))["d"]["code"] == "peer_not_in_channel"
    assert "voice.signal" not in await b.types_until_ack()

    # coturn itself refuses credentials that expired, and ones not made with its secret.
    turn = fleet.turn
    expired = mint(turn.secret, int(ids["alice"]), -30)
    good = next(s for s in ice_a["ice_servers"] if s.get("username"))
    for username, password in (
        (expired.username, expired.credential),
        (good["username"], good["credential"][::-1]),
        (f"{int(time.time()) + 3600}:{ids['carol']}", good["credential"]),
    ):
        async with TurnClient(turn.host, turn.port, "udp", 2.0) as probe:
            with pytest.raises(StunError) as refused:
                await probe.allocate(username, password)
            assert refused.value.code == 401
    for client in (a, b, c):
        await client.close()
