"""A rolling restart of the whole fleet under steady traffic: nothing fails, nothing is lost.

Two instances of every service behind nginx. Each instance in turn is replaced the way an
orchestrator's rolling update does it: a new instance starts and becomes ready, joins nginx's
upstreams, the old one leaves them and gets SIGTERM (it finishes what it holds; the gateway
tells its clients to resume elsewhere). Meanwhile one person sends messages, another reads from
every service, and two gateway clients follow the channel, resuming when told to.

Afterwards: no request got an error, every accepted message reached both clients exactly once.
A request whose keep-alive connection nginx closed (or left unanswered) while reloading never
reached a service, and is sent again (as browsers do; a send carries its nonce, so a second try
cannot post twice): those retries are counted and bounded, not hidden.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import secrets
import signal
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import websockets
from PIL import Image

from harmoniq_gateway.protocol import Op

from fleet import Fleet, load_services
from gateway_client import GatewayClient

pytestmark = pytest.mark.fleet

SEND_PAUSE = 0.05  # ~20 sends a second, and ~10 reads: under nginx's per-address limit
READ_PAUSE = 0.1
REQUEST_TIMEOUT = 5.0
RETRIES = 4


@pytest.fixture(scope="module")
def fleet_instances() -> dict[str, int]:
    return {service.name: 2 for service in load_services()}


@pytest.fixture(scope="module")
def fleet_env() -> dict[str, str]:
    """One sender at ~20 messages a second: above a person's send limit (5 per 5 s)."""
    return {"HARMONIQ_SEND_RATE_LIMIT": "1000"}


@dataclass
class Traffic:
    """What the clients saw while the fleet rolled."""

    statuses: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # any answer that is not a success
    retried: int = 0  # requests sent again after nginx closed their idle connection
    accepted: dict[str, str] = field(default_factory=dict)  # nonce -> message id


class Follower:
    """A gateway client that follows the channel, resuming on another instance when told to
    (RECONNECT, or the connection closing), and records every message.create it gets."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.received: list[str] = []
        self.resumes = 0
        self.client: GatewayClient | None = None
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        self.client = await GatewayClient.connect(self.url)
        self.client.start_heartbeats()
        await self.client.identify(self.token)

    async def run(self) -> None:
        while not self.stopping.is_set():
            assert self.client is not None
            try:
                frame = await self.client.receive(timeout=30)
            except (websockets.ConnectionClosed, TimeoutError):
                if not self.stopping.is_set():
                    await self._resume()
                continue
            if frame["op"] == Op.RECONNECT:
                await self._resume()
            elif frame["op"] == Op.DISPATCH and frame["t"] == "message.create":
                self.received.append(frame["d"]["message"]["id"])

    async def _resume(self) -> None:
        """RESUME through nginx (which picks a live instance) with the last sequence seen."""
        assert self.client is not None
        old = self.client
        with contextlib.suppress(Exception):
            await old.close()
        while True:
            try:
                fresh = await GatewayClient.connect(self.url)
            except (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed):
                await asyncio.sleep(0.1)  # pacing a reconnect, as a client's backoff does
                continue
            fresh.seq, fresh.session_id = old.seq, old.session_id
            try:
                await fresh.send(
                    Op.RESUME, {"token": self.token, "session_id": old.session_id, "seq": old.seq}
                )
                first = await fresh.receive()
            except websockets.ConnectionClosed:  # reached an instance as it went
                continue
            if first["op"] == Op.RECONNECT:  # reached an instance that is draining itself
                await fresh.close()
                continue
            assert first["op"] == Op.DISPATCH and first["t"] == "resumed", first
            fresh.start_heartbeats()
            self.client = fresh
            self.resumes += 1
            return

    async def close(self) -> None:
        self.stopping.set()
        if self.client is not None:
            await self.client.close()


async def _call(
    http: httpx.AsyncClient, traffic: Traffic, method: str, path: str, **kwargs: Any
) -> httpx.Response | None:
    """One request as a careful client makes it: sent again when its connection was closed
    under it or no answer came in time (a send carries its nonce, so a second try returns the
    first message; a try racing the first gets 409 and Retry-After). Any error answer counts."""
    for _ in range(RETRIES):
        try:
            response = await http.request(method, path, timeout=REQUEST_TIMEOUT, **kwargs)
        except httpx.TransportError:  # cut off or unanswered: no answer to count
            traffic.retried += 1
            continue
        if response.status_code == 409 and response.json().get("code") == "duplicate_nonce":
            traffic.retried += 1
            await asyncio.sleep(float(response.headers["Retry-After"]))  # as the server asks
            continue
        traffic.statuses[str(response.status_code)] += 1
        if not response.is_success:
            traffic.errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
            return None
        return response
    traffic.errors.append(f"{method} {path}: no answer after {RETRIES} tries")
    return None


async def _send(
    http: httpx.AsyncClient, traffic: Traffic, channel_id: str, auth: dict[str, str],
    stop: asyncio.Event,
) -> None:  # fmt: skip
    while not stop.is_set():
        nonce = secrets.token_hex(8)
        sent = await _call(
            http, traffic, "POST", f"/api/v1/channels/{channel_id}/messages",
            json={"content": f"rolling {nonce}", "nonce": nonce}, headers=auth,
        )  # fmt: skip
        if sent is not None:
            traffic.accepted[nonce] = sent.json()["id"]
        await asyncio.sleep(SEND_PAUSE)  # pacing the traffic


async def _read(
    http: httpx.AsyncClient, traffic: Traffic, reads: list[tuple[str, dict[str, str]]],
    stop: asyncio.Event,
) -> None:  # fmt: skip
    while not stop.is_set():
        for path, auth in reads:
            await _call(http, traffic, "GET", path, headers=auth)
            await asyncio.sleep(READ_PAUSE)  # pacing the traffic


async def _register(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "correct horse b"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _roll(fleet: Fleet) -> list[str]:
    """Replace every instance of every service in turn; the order they were replaced in."""
    rolled = []
    for service in fleet.services:
        for old in list(fleet.processes[service.name]):
            index = max(int(p.name.rsplit("-", 1)[1]) for p in fleet.processes[service.name]) + 1
            new = await asyncio.to_thread(fleet.start_instance, service, index)
            await asyncio.to_thread(fleet.wait_ready, new)
            fleet.reload_nginx()  # the new instance joins
            fleet.processes[service.name].remove(old)
            fleet.reload_nginx()  # the old one leaves; a request it is still sent is refused
            # and nginx passes it to the next upstream (proxy_next_upstream error)
            code = await asyncio.to_thread(Fleet.stop_process, old, signal.SIGTERM)
            assert code in (0, -signal.SIGTERM), f"{old.name} exited {code}:\n{old.log_tail()}"
            rolled.append(old.name)
    return rolled


@pytest.mark.timeout(600)  # fourteen instances replaced one at a time, each waited ready
async def test_a_rolling_restart_of_every_service_drops_nothing(fleet: Fleet) -> None:
    tag = secrets.token_hex(3)
    async with httpx.AsyncClient(base_url=fleet.url, timeout=20) as http:
        owner, member = await _register(http, f"roll{tag}"), await _register(http, f"mate{tag}")
        owner_auth = {"Authorization": f"Bearer {owner['access_token']}"}
        member_auth = {"Authorization": f"Bearer {member['access_token']}"}
        server = await http.post("/api/v1/servers", json={"name": "Roll"}, headers=owner_auth)
        server_id = server.json()["id"]
        channels = await http.get(f"/api/v1/servers/{server_id}/channels", headers=owner_auth)
        text = next(c for c in channels.json() if c["kind"] == "text")
        voice = next(c for c in channels.json() if c["kind"] == "voice")
        invite = await http.post(
            f"/api/v1/channels/{text['id']}/invites", json={}, headers=owner_auth
        )
        joined = await http.post(f"/api/v1/invites/{invite.json()['code']}", headers=member_auth)
        assert joined.status_code == 200, joined.text

        image = io.BytesIO()
        Image.new("RGB", (8, 8), "teal").save(image, "PNG")
        uploaded = await http.post(
            "/api/v1/media/upload", data={"purpose": "attachment"},
            files={"file": ("tile.png", image.getvalue(), "image/png")}, headers=member_auth,
        )  # fmt: skip
        assert uploaded.status_code == 201, uploaded.text

        url = fleet.url.replace("http://", "ws://") + "/gateway"
        followers = [Follower(url, member["access_token"]), Follower(url, owner["access_token"])]
        for follower in followers:
            await follower.start()
        reads = [
            ("/api/v1/auth/me", member_auth),  # auth
            (f"/api/v1/servers/{server_id}", member_auth),  # guilds
            (f"/api/v1/channels/{text['id']}/messages?limit=5", member_auth),  # messages
            (f"/api/v1/channels/{voice['id']}/voice-states", member_auth),  # voice
            (f"/api/v1/servers/{server_id}/webhooks", owner_auth),  # bots
            (f"/api/v1/media/{uploaded.json()['id']}/info", member_auth),  # media
        ]
        traffic, stop = Traffic(), asyncio.Event()
        tasks = [
            asyncio.create_task(_send(http, traffic, text["id"], owner_auth, stop)),
            asyncio.create_task(_read(http, traffic, reads, stop)),
            *(asyncio.create_task(f.run()) for f in followers),
        ]
        try:
            rolled = await _roll(fleet)
        finally:
            stop.set()
            await asyncio.gather(*tasks[:2])

        # Every accepted message reaches both followers, once each (they may still be
        # catching up: the last sends were a moment ago).
        expected = sorted(traffic.accepted.values())

        async def caught_up() -> None:
            while any(sorted(set(f.received)) != expected for f in followers):
                await asyncio.sleep(0.05)  # polling what the followers' tasks record

        try:
            await asyncio.wait_for(caught_up(), 30)
        finally:
            for follower in followers:
                await follower.close()
            await asyncio.gather(*tasks[2:], return_exceptions=True)

    services = [s.name for s in fleet.services]
    assert sorted({name.rsplit("-", 1)[0] for name in rolled}) == sorted(services)
    assert len(rolled) == 2 * len(services)
    assert traffic.errors == [], (traffic.statuses, traffic.errors[:5])
    # Retries are the exception: a closed keep-alive connection as nginx reloads, now and then.
    assert traffic.retried <= len(rolled), (traffic.retried, traffic.statuses)
    assert len(traffic.accepted) > 100, traffic.statuses  # traffic flowed throughout
    for follower in followers:
        assert sorted(follower.received) == expected, "a message was lost or came twice"
    # Both gateway instances were replaced: each follower had to resume at least once.
    assert all(f.resumes >= 1 for f in followers), [f.resumes for f in followers]
