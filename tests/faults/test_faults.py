"""kill -9 one dependency or one service under steady traffic, restart it, and count.

For each target, one person sends messages through nginx without pause (retrying a failed
send with the same nonce, as a client does), another listens on the gateway (resuming when
dropped, as a client does), and a logged-out token and a bot's replaced token knock on every
service. The target is killed with SIGKILL, left dead for a moment and started again. Then:

* every accepted send is in the channel's history exactly once (0 lost, 0 duplicates);
* the listener got a ``message.create`` for every accepted send, each once (0 missed);
* no revoked token was ever accepted by any service;
* every service said it was not ready while a dependency it needs was gone, and is ready
  again at the end; sends succeed again within a bound after the restart.

The figures (failed attempts by status, seconds until sends succeed again) are printed and
written to ``$HARMONIQ_FAULT_REPORT`` (JSON lines) when set; docs/operations.md has a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import pytest
import websockets

from harmoniq_common.testing.infra import InfraStack
from harmoniq_common.testing.waiting import eventually
from harmoniq_gateway.protocol import Op

from fleet import Fleet
from gateway_client import GatewayClient

pytestmark = pytest.mark.fleet

INFRA = ("redis", "nats", "postgres")
SERVICES = ("auth", "guilds", "messages", "gateway", "media", "voice", "bots")
DOWN_SECONDS = 2.0  # how long the target stays dead
RECOVERY_BOUND = 30.0  # sends must succeed again within this after the restart
SEND_PAUSE = 0.04  # ~25 sends a second
# What a revoked token may get: refused, or the service down; anything else let it in (a 429
# from nginx's per-address guard says nothing either way, and is counted apart).
REJECTED = {"401", "502", "503", "504", "unreachable"}


@dataclass
class Figures:
    target: str
    attempts: int = 0
    accepted: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    seconds_to_recover: float = 0.0
    lost: int = 0
    duplicates: int = 0
    missed_events: int = 0
    repeated_events: int = 0
    resumes: int = 0
    revoked_probes: int = 0
    revoked_accepted: int = 0
    revoked_answers: Counter[str] = field(default_factory=Counter)
    unready_seen: list[str] = field(default_factory=list)


@dataclass
class World:
    """One server per test: its owner sends, a member listens, outsiders knock."""

    owner: dict[str, str]
    member_token: str
    server_id: str
    channel_id: str
    revoked: list[dict[str, str]]
    bot: dict[str, str]  # the bot's current token, which must work again after it all


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _register(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "long enough pw"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _world(http: httpx.AsyncClient) -> World:
    tag = secrets.token_hex(3)
    owner = await _register(http, f"ada{tag}")
    member = await _register(http, f"bo{tag}")
    owner_auth = _bearer(owner["access_token"])
    server = (
        await http.post("/api/v1/servers", json={"name": "Faults"}, headers=owner_auth)
    ).json()
    channels = (
        await http.get(f"/api/v1/servers/{server['id']}/channels", headers=owner_auth)
    ).json()
    channel = next(c for c in channels if c["kind"] == "text")
    invite = (
        await http.post(f"/api/v1/channels/{channel['id']}/invites", json={}, headers=owner_auth)
    ).json()
    joined = await http.post(
        f"/api/v1/invites/{invite['code']}", headers=_bearer(member["access_token"])
    )
    assert joined.status_code == 200, joined.text

    # A logged-out session, and a bot whose token was replaced: both must stay dead.
    eve = await _register(http, f"eve{tag}")
    out = await http.post("/api/v1/auth/logout", headers=_bearer(eve["access_token"]))
    assert out.status_code == 204
    bot = (
        await http.post("/api/v1/bots", json={"username": f"bot{tag}"}, headers=owner_auth)
    ).json()
    reset = await http.post(f"/api/v1/bots/{bot['bot']['id']}/token", headers=owner_auth)
    assert reset.status_code == 200, reset.text
    return World(
        owner=owner_auth,
        member_token=member["access_token"],
        server_id=server["id"],
        channel_id=channel["id"],
        revoked=[_bearer(eve["access_token"]), {"Authorization": f"Bot {bot['token']}"}],
        bot={"Authorization": f"Bot {reset.json()['token']}"},
    )


@dataclass
class Sends:
    """What the sender saw: accepted nonces and their message ids, failures by status."""

    accepted: dict[str, str] = field(default_factory=dict)
    failed: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    failure_times: list[float] = field(default_factory=list)
    success_times: list[float] = field(default_factory=list)


async def _send_steadily(
    http: httpx.AsyncClient, world: World, sends: Sends, stop: asyncio.Event
) -> None:
    url = f"/api/v1/channels/{world.channel_id}/messages"
    number = 0
    while not stop.is_set():
        nonce = f"n{number}"
        number += 1
        while not stop.is_set():  # a failed send is retried with its nonce, as a client does
            sends.attempts += 1
            try:
                response = await http.post(
                    url, json={"content": nonce, "nonce": nonce}, headers=world.owner, timeout=5
                )
                status = str(response.status_code)
            except httpx.HTTPError as error:
                status = type(error).__name__
            if status in ("200", "201"):
                sends.accepted[nonce] = response.json()["id"]
                sends.success_times.append(time.monotonic())
                break
            sends.failed[status] += 1
            sends.failure_times.append(time.monotonic())
            await asyncio.sleep(0.1)  # pacing a retry, not waiting for anything
        await asyncio.sleep(SEND_PAUSE)  # pacing the traffic


async def _probe_revoked(
    http: httpx.AsyncClient, world: World, figures: Figures, stop: asyncio.Event, gateway: str
) -> None:
    """Knock on auth, guilds, messages, voice, bots and the gateway with tokens that must never
    work again."""
    paths = [
        "/api/v1/auth/me",
        "/api/v1/servers",
        f"/api/v1/channels/{world.channel_id}/messages",
        "/api/v1/voice/ice-servers",
        f"/api/v1/servers/{world.server_id}/webhooks",
    ]
    while not stop.is_set():
        for headers in world.revoked:
            figures.revoked_probes += 1
            if await _gateway_lets_in(gateway, headers["Authorization"]):
                figures.revoked_accepted += 1
        for headers in world.revoked:
            for path in paths:
                try:
                    status = str((await http.get(path, headers=headers, timeout=5)).status_code)
                except httpx.HTTPError:
                    status = "unreachable"
                figures.revoked_answers[status] += 1
                if status == "429":
                    continue
                figures.revoked_probes += 1
                if status not in REJECTED:
                    figures.revoked_accepted += 1
        await asyncio.sleep(0.5)  # pacing: all traffic stays under nginx's 50 r/s per address


async def _gateway_lets_in(url: str, authorization: str) -> bool:
    """IDENTIFY with the credential; whether READY came (a refusal closes, 4004 or 4000)."""
    token = authorization.removeprefix("Bearer ")
    try:
        client = await GatewayClient.connect(url)
    except (OSError, websockets.InvalidHandshake, websockets.ConnectionClosed, TimeoutError):
        return False  # the gateway itself is down
    try:
        await client.send(Op.IDENTIFY, {"token": token, "properties": {"os": "test"}})
        await client.dispatch("ready", timeout=5)
        return True
    except (websockets.ConnectionClosed, TimeoutError):
        return False
    finally:
        await client.close()


class Listener:
    """A gateway client that stays: heartbeats, and RESUMEs when dropped, as clients do."""

    def __init__(self, url: str, token: str) -> None:
        self._url = url
        self._token = token
        self._session_id: str | None = None
        self._seq: int | None = None
        self.created: list[str] = []
        self.resumes = 0
        self.invalid_sessions = 0
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(
                OSError, websockets.ConnectionClosed, websockets.InvalidHandshake, TimeoutError
            ):
                client = await GatewayClient.connect(self._url)
                try:
                    await self._follow(client, stop)
                finally:
                    await client.close()
            if not stop.is_set():
                await asyncio.sleep(0.2)  # reconnect back-off, as a client's

    async def _follow(self, client: GatewayClient, stop: asyncio.Event) -> None:
        if self._session_id is None:
            ready = await client.identify(self._token)
            self._session_id = ready["d"]["session_id"]
            self.ready.set()
        else:
            client.seq = self._seq
            await client.send(
                Op.RESUME, {"token": self._token, "session_id": self._session_id, "seq": self._seq}
            )
        client.start_heartbeats()
        while not stop.is_set():
            try:
                frame = await client.receive(timeout=0.5)
            except TimeoutError:
                continue
            self._seq = client.seq
            if frame["op"] == Op.INVALID_SESSION:
                self.invalid_sessions += 1
                self._session_id = None
                return
            if frame["op"] == Op.RECONNECT:
                return
            if frame["op"] == Op.DISPATCH and frame["t"] == "resumed":
                self.resumes += 1
            if frame["op"] == Op.DISPATCH and frame["t"] == "message.create":
                self.created.append(frame["d"]["message"]["id"])


async def _history(http: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    after = "1"  # below every id
    while True:
        response = await http.get(
            f"/api/v1/channels/{world.channel_id}/messages",
            params={"after": after, "limit": 100},
            headers=world.owner,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        if not page:
            return messages
        messages.extend(page)
        after = max(page, key=lambda m: int(m["id"]))["id"]


async def _watch_readiness(fleet: Fleet, seen_unready: set[str], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        while not stop.is_set():
            for name, processes in fleet.processes.items():
                for process in processes:
                    with contextlib.suppress(httpx.HTTPError):
                        got = await client.get(f"http://127.0.0.1:{process.port}/health/ready")
                        if got.status_code != 200:
                            seen_unready.add(name)
            await asyncio.sleep(0.1)  # pacing the probes


async def _kill_and_restart(target: str, infra: InfraStack, fleet: Fleet) -> float:
    """SIGKILL the target, leave it dead for DOWN_SECONDS, start it again; when restarted."""
    if target in INFRA:
        await asyncio.to_thread(infra.kill, target)
        await asyncio.sleep(DOWN_SECONDS)  # the outage itself
        await asyncio.to_thread(infra.restart, target)
        return time.monotonic()
    [process] = fleet.processes[target]
    os.killpg(process.popen.pid, signal.SIGKILL)
    process.popen.wait()
    fleet.processes[target].remove(process)
    await asyncio.sleep(DOWN_SECONDS)  # the outage itself
    service = next(s for s in fleet.services if s.name == target)
    restarted_at = time.monotonic()
    again = fleet.start_instance(service, 0, port=process.port)  # nginx's upstream stays valid
    await asyncio.to_thread(fleet.wait_ready, again)
    return restarted_at


@pytest.fixture
async def http(fault_fleet: Fleet) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=fault_fleet.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("target", [*INFRA, *SERVICES])
async def test_kill_and_restart_loses_nothing(
    target: str, fault_infra: InfraStack, fault_fleet: Fleet, http: httpx.AsyncClient
) -> None:
    world = await _world(http)
    figures = Figures(target)
    sends = Sends()
    gateway = fault_fleet.url.replace("http://", "ws://") + "/gateway"
    listener = Listener(gateway, world.member_token)
    stop_traffic, stop_listening = asyncio.Event(), asyncio.Event()
    unready: set[str] = set()
    listening = asyncio.create_task(listener.run(stop_listening))
    await asyncio.wait_for(listener.ready.wait(), 15)
    background = [
        asyncio.create_task(_send_steadily(http, world, sends, stop_traffic)),
        asyncio.create_task(_probe_revoked(http, world, figures, stop_traffic, gateway)),
        asyncio.create_task(_watch_readiness(fault_fleet, unready, stop_traffic)),
    ]
    try:
        await eventually(_after(lambda: len(sends.accepted) >= 20), what="steady traffic")
        restarted_at = await _kill_and_restart(target, fault_infra, fault_fleet)

        def recovered() -> bool:
            last_failure = max(sends.failure_times, default=0.0)
            now = time.monotonic()
            return (
                now - restarted_at > 2
                and now - last_failure > 2
                and bool(sends.success_times and sends.success_times[-1] > last_failure)
            )

        await eventually(_after(recovered), timeout=RECOVERY_BOUND + 5, what="sends succeeding")
    finally:
        stop_traffic.set()
        await asyncio.gather(*background)

    accepted_ids = set(sends.accepted.values())

    async def caught_up() -> bool:
        return accepted_ids <= set(listener.created)

    with contextlib.suppress(AssertionError):  # what it still lacks is counted below
        await eventually(caught_up, timeout=30, what="the listener catching up")
    stop_listening.set()
    await listening
    received = Counter(listener.created)

    history = await _history(http, world)
    by_nonce = Counter(m["nonce"] for m in history)
    failures_after_restart = [t for t in sends.failure_times if t > restarted_at]
    figures.attempts = sends.attempts
    figures.accepted = len(sends.accepted)
    figures.failed = sends.failed
    figures.seconds_to_recover = round(
        max(failures_after_restart, default=restarted_at) - restarted_at, 2
    )
    figures.lost = len(accepted_ids - {m["id"] for m in history})
    figures.duplicates = sum(n - 1 for n in by_nonce.values() if n > 1)
    figures.missed_events = len(accepted_ids - set(received))
    figures.repeated_events = sum(n - 1 for n in received.values() if n > 1)
    figures.resumes = listener.resumes
    figures.unready_seen = sorted(unready)
    _report(figures)

    assert figures.accepted >= 30, "too little traffic to say anything"
    assert figures.lost == 0
    assert figures.duplicates == 0
    assert figures.missed_events == 0
    assert figures.repeated_events == 0
    assert listener.invalid_sessions == 0, "the listener had to start over (events skipped)"
    assert figures.revoked_probes > 0 and figures.revoked_accepted == 0
    assert figures.seconds_to_recover < RECOVERY_BOUND
    if target in INFRA:  # every service depends on all three, and must say so
        assert figures.unready_seen == sorted(SERVICES)
    await eventually(_ready_everywhere(fault_fleet), timeout=30, what="every service ready")
    bot_me = await http.get("/api/v1/auth/me", headers=world.bot)
    assert bot_me.status_code == 200, "the bot's current token works again"


def _after(predicate: Any) -> Any:
    async def probe() -> bool:
        return bool(predicate())

    return probe


def _ready_everywhere(fleet: Fleet) -> Any:
    async def probe() -> bool:
        async with httpx.AsyncClient(timeout=2) as client:
            for processes in fleet.processes.values():
                for process in processes:
                    got = await client.get(f"http://127.0.0.1:{process.port}/health/ready")
                    if got.status_code != 200:
                        return False
        return True

    return probe


def _report(figures: Figures) -> None:
    line = json.dumps(
        {
            **asdict(figures),
            "failed": dict(figures.failed),
            "revoked_answers": dict(figures.revoked_answers),
        }
    )
    print(line)
    path = os.environ.get("HARMONIQ_FAULT_REPORT")
    if path:
        with open(path, "a") as report:
            report.write(line + "\n")
