"""Voice: signalling latency peer -> peer through the gateway (same and different instances),
voice joins per second, and the time from join to media flowing between two aiortc peers
through coturn.

Starts the fleet (two gateway instances) with Debian's coturn on loopback, then:

* signalling: one peer sends ``voice.signal`` (op 13, an ICE candidate) to another in the same
  voice channel and waits for it to arrive as a dispatch, one at a time (gateway -> voice RPC
  check -> core NATS -> the peer's gateway); the peers connect straight to the gateway
  instances (not through nginx) so that "same" and "different" instance are chosen;
* joins: ``--users`` sessions send op 12 at once, eight per voice channel (the mesh limit);
  joins/s = sessions / time until each saw its own ``voice.state_update``;
* join -> media: two aiortc peers, relay-only, join, fetch ICE servers, exchange offer and
  answer through the gateway and send on a data channel both ways; time from the first op 12
  to the second message.

Loopback only, bounded counts; figures are printed, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from harmoniq_common.testing.infra import InfraStack, free_port
from harmoniq_gateway.protocol import Op

from fleet import Fleet
from gateway_client import GatewayClient
from turn_server import TurnStack


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _register(http: httpx.Client) -> dict[str, Any]:
    name = f"v{secrets.token_hex(5)}"
    response = http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@bench.example", "password": "bench password"},
    )
    response.raise_for_status()
    user: dict[str, Any] = response.json()
    return user


def _headers(user: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['access_token']}"}


class World:
    """A server owned by the first user, everyone else a member, and voice channels."""

    def __init__(self, http: httpx.Client, users: int, channels: int) -> None:
        self.users = [_register(http) for _ in range(users)]
        owner = _headers(self.users[0])
        server = http.post("/api/v1/servers", json={"name": "Bench"}, headers=owner).json()
        self.channels = [
            http.post(
                f"/api/v1/servers/{server['id']}/channels",
                json={"name": f"v{n}", "kind": "voice"},
                headers=owner,
            ).json()["id"]
            for n in range(channels)
        ]
        text = next(
            c["id"]
            for c in http.get(f"/api/v1/servers/{server['id']}/channels", headers=owner).json()
            if c["kind"] == "text"
        )
        code = http.post(f"/api/v1/channels/{text}/invites", json={}, headers=owner).json()["code"]
        for user in self.users[1:]:
            http.post(f"/api/v1/invites/{code}", headers=_headers(user)).raise_for_status()


async def _own_state(client: GatewayClient, user_id: str) -> None:
    while True:
        frame = await client.dispatch("voice.state_update", timeout=30)
        if frame["d"]["user_id"] == user_id:
            return


async def _signal_latency(a: GatewayClient, b: GatewayClient, b_id: str, n: int) -> list[float]:
    times: list[float] = []
    for i in range(n):
        started = time.perf_counter()
        await a.send(
            Op.VOICE_SIGNAL,
            {
                "to_user_id": b_id,
                "kind": "candidate",
                "candidate": f"candidate:{i} 1 udp 1 127.0.0.1 9 typ relay",
            },
        )
        while (await b.dispatch("voice.signal"))["d"]["candidate"].split()[0] != f"candidate:{i}":
            pass
        times.append((time.perf_counter() - started) * 1000)
    return times


async def _signalling(fleet: Fleet, world: World, n: int) -> None:
    ports = [p.port for p in fleet.processes["gateway"]]
    (alice, bob, carol), channel = world.users[:3], world.channels[0]
    a = await GatewayClient.connect(f"ws://127.0.0.1:{ports[0]}/gateway")
    same = await GatewayClient.connect(f"ws://127.0.0.1:{ports[0]}/gateway")
    other = await GatewayClient.connect(f"ws://127.0.0.1:{ports[1]}/gateway")
    for client, user in ((a, alice), (same, bob), (other, carol)):
        await client.identify(user["access_token"])
        await client.send(Op.VOICE_STATE_UPDATE, {"channel_id": channel})
        await _own_state(client, user["user"]["id"])
    await _signal_latency(a, same, bob["user"]["id"], 20)  # warm-up
    for label, peer, user in (("same instance", same, bob), ("other instance", other, carol)):
        times = await _signal_latency(a, peer, user["user"]["id"], n)
        print(
            f"voice.signal peer -> peer, {label:14s} n={n} "
            f"p50={statistics.median(times):6.2f} ms  p99={_percentile(times, 0.99):6.2f} ms"
        )
    await _close([a, same, other])


async def _joins(fleet: Fleet, world: World, users: int) -> None:
    url = fleet.url.replace("http://", "ws://") + "/gateway"
    members = world.users[:users]
    clients = [await GatewayClient.connect(url) for _ in members]
    for client, user in zip(clients, members, strict=True):
        await client.identify(user["access_token"])
    started = time.perf_counter()
    for n, client in enumerate(clients):
        await client.send(Op.VOICE_STATE_UPDATE, {"channel_id": world.channels[n // 8]})
    await asyncio.gather(
        *(_own_state(c, u["user"]["id"]) for c, u in zip(clients, members, strict=True))
    )
    elapsed = time.perf_counter() - started
    print(
        f"voice joins: {users} sessions at once, {users / elapsed:7.1f} joins/s ({elapsed:.2f} s"
        " until each saw its own voice.state_update among everyone's)"
    )
    await _close(clients)


async def _close(clients: list[GatewayClient]) -> None:
    """Hang up at once (ending a session takes it out of voice): a polite close would wait
    behind the frames these clients never read."""
    for client in clients:
        client.connection.transport.abort()


def _relay_only(ice: dict[str, Any]) -> RTCConfiguration:
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
        for s in ice["ice_servers"]
    ]
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)


async def _join_to_media(fleet: Fleet, http: httpx.Client, world: World, channel: str) -> float:
    url = fleet.url.replace("http://", "ws://") + "/gateway"
    alice, bob = world.users[0], world.users[1]
    a, b = await GatewayClient.connect(url), await GatewayClient.connect(url)
    await a.identify(alice["access_token"])
    await b.identify(bob["access_token"])
    started = time.perf_counter()
    await a.send(Op.VOICE_STATE_UPDATE, {"channel_id": channel})
    await b.send(Op.VOICE_STATE_UPDATE, {"channel_id": channel})
    await _own_state(a, alice["user"]["id"])
    await _own_state(b, bob["user"]["id"])
    ice_a = http.get("/api/v1/voice/ice-servers", headers=_headers(alice)).json()
    ice_b = http.get("/api/v1/voice/ice-servers", headers=_headers(bob)).json()
    caller, callee = RTCPeerConnection(_relay_only(ice_a)), RTCPeerConnection(_relay_only(ice_b))
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    channel_a = caller.createDataChannel("bench")
    channel_a.on("open", lambda: channel_a.send("ping"))
    channel_a.on("message", lambda _m: done.done() or done.set_result(None))

    @callee.on("datachannel")
    def answer(incoming: RTCDataChannel) -> None:
        incoming.on("message", lambda _m: incoming.send("pong"))

    try:
        await caller.setLocalDescription(await caller.createOffer())
        await a.send(
            Op.VOICE_SIGNAL,
            {"to_user_id": bob["user"]["id"], "kind": "offer", "sdp": caller.localDescription.sdp},
        )
        offer = (await b.dispatch("voice.signal"))["d"]
        await callee.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        await callee.setLocalDescription(await callee.createAnswer())
        await b.send(
            Op.VOICE_SIGNAL,
            {
                "to_user_id": alice["user"]["id"],
                "kind": "answer",
                "sdp": callee.localDescription.sdp,
            },
        )
        reply = (await a.dispatch("voice.signal"))["d"]
        await caller.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        await asyncio.wait_for(done, 30)
        return time.perf_counter() - started
    finally:
        await caller.close()
        await callee.close()
        await _close([a, b])


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench voice")
    parser.add_argument("--quick", action="store_true", help="fewer signals, joins and calls")
    parser.add_argument("--users", type=int, default=0, help="sessions joining at once")
    args = parser.parse_args(argv)
    signals, users, calls = (100, 24, 2) if args.quick else (500, 80, 5)
    users = args.users or users
    print("# voice (two gateway instances, coturn on loopback)")
    with (
        tempfile.TemporaryDirectory(prefix="harmoniq-bench-") as tmp,
        InfraStack(Path(tmp) / "infra") as infra,
        TurnStack(Path(tmp) / "turn") as turn,
    ):
        fleet = Fleet(
            infra,
            Path(tmp) / "fleet",
            public_port=free_port(),
            database=f"hq_bench_{secrets.token_hex(3)}",
            namespace="bench",
            fixed_ports=False,
            instances={"gateway": 2},
            turn=turn,
            extra_env={
                "HARMONIQ_AUTH_RATE_LIMIT": "100000",
                "HARMONIQ_VOICE_SIGNALS_PER_WINDOW": "100000",
                "HARMONIQ_CLIENT_EVENTS_PER_WINDOW": "100000",
                "HARMONIQ_LOG_LEVEL": "WARNING",
            },
        )
        fleet.start()
        try:
            with httpx.Client(base_url=fleet.url, timeout=30) as http:
                world = World(http, max(users, 3), (max(users, 3) + 7) // 8 + 1)
                asyncio.run(_signalling(fleet, world, signals))
                asyncio.run(_joins(fleet, world, users))
                times = [
                    asyncio.run(_join_to_media(fleet, http, world, world.channels[-1]))
                    for _ in range(calls)
                ]
                print(
                    f"join -> data both ways through coturn (aiortc, relay only): n={calls} "
                    f"p50={statistics.median(times) * 1000:7.1f} ms  max={max(times) * 1000:7.1f} ms"
                )
        finally:
            fleet.stop()
