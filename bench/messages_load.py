"""HTTP load for the messages benchmark: the cast (users, a server, its channels) and timed runs.

Everything goes through nginx on loopback, as a client would. Runs are bounded twice: a fixed
number of requests and a wall-clock limit, whichever comes first; the count actually done is
reported with the figures. The set-up uses httpx; the timed runs use :class:`Connection`, one
keep-alive HTTP/1.1 connection per simulated client.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

__all__ = [
    "Actor",
    "Cast",
    "Connection",
    "Outcome",
    "assemble_cast",
    "percentile",
    "read_run",
    "send_run",
]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Actor:
    id: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Cast:
    owner: Actor
    senders: list[Actor]
    server_id: str
    big_channel_id: str  # "general": seeded with the large history, read and searched
    chat_channel_id: str  # "chat": where the send runs write


@dataclass
class Outcome:
    """One timed run: latencies in seconds, wall time, statuses other than the expected one."""

    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    errors: Counter[int] = field(default_factory=Counter)
    bodies: list[Any] = field(default_factory=list)  # the first few answers, for sanity checks

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000


class Connection:
    """One keep-alive HTTP/1.1 connection, opened on first use and again after a close.

    httpx costs about 2 ms of CPU per request on this machine, taken from the two cores the
    fleet under test runs on; this costs a tenth of that. It speaks only what nginx answers
    here: Content-Length or chunked bodies, ``Connection: close`` after keepalive_requests.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: Any = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON body or None)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        assert self._reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {target} HTTP/1.1", f"Host: {self._host}:{self._port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        self._writer.write("\r\n".join(head).encode() + b"\r\n\r\n" + payload)
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if chunked:
            parts = []
            while size := int((await self._reader.readline()).split(b";")[0], 16):
                parts.append(await self._reader.readexactly(size + 2))
            await self._reader.readline()
            raw = b"".join(p[:-2] for p in parts)
        else:
            raw = await self._reader.readexactly(length)
        if close:
            await self.close()
        return status, json.loads(raw) if raw else None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None


def _expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text}")
    return response.json()


async def assemble_cast(url: str, senders: int) -> Cast:
    """Register an owner and ``senders`` members, one server with two text channels, joined."""
    tag = secrets.token_hex(3)
    gate = asyncio.Semaphore(4)  # argon2 makes registration CPU-bound; more only queues
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def register(name: str) -> Actor:
            async with gate:
                body = _expect(
                    await client.post(
                        "/api/v1/auth/register",
                        json={
                            "username": name,
                            "email": f"{name}@bench.example",
                            "password": "benchmark password",
                        },
                    ),
                    201,
                    "register",
                )
            return Actor(str(body["user"]["id"]), name, body["access_token"])

        owner, *members = await asyncio.gather(
            *(register(f"m{tag}{n}") for n in range(senders + 1))
        )
        server = _expect(
            await client.post("/api/v1/servers", json={"name": "Benchmark"}, headers=owner.headers),
            201,
            "create server",
        )
        channels = _expect(
            await client.get(f"/api/v1/servers/{server['id']}/channels", headers=owner.headers),
            200,
            "list channels",
        )
        general = next(c for c in channels if c["kind"] == "text")
        chat = _expect(
            await client.post(
                f"/api/v1/servers/{server['id']}/channels",
                json={"name": "chat"},
                headers=owner.headers,
            ),
            201,
            "create channel",
        )
        invite = _expect(
            await client.post(
                f"/api/v1/channels/{general['id']}/invites", json={}, headers=owner.headers
            ),
            201,
            "create invite",
        )
        for member in members:
            _expect(
                await client.post(f"/api/v1/invites/{invite['code']}", headers=member.headers),
                200,
                "join",
            )
    return Cast(owner, members, str(server["id"]), str(general["id"]), str(chat["id"]))


async def send_run(
    url: str,
    senders: Sequence[Actor],
    channel_id: str,
    contents: Sequence[str],
    *,
    time_limit: float,
) -> Outcome:
    """Each sender posts its share of ``contents`` one after the other (its own connection),
    all senders at once; every message carries a fresh nonce, as clients send them."""
    outcome = Outcome()
    path = f"/api/v1/channels/{channel_id}/messages"
    nonce = secrets.token_hex(4)
    stop_at = time.monotonic() + time_limit
    shares = [contents[i :: len(senders)] for i in range(len(senders))]

    async def sender(index: int, actor: Actor, share: Sequence[str]) -> None:
        connection = Connection(url)
        try:
            for n, content in enumerate(share):
                if time.monotonic() > stop_at:
                    return
                body = {"content": content, "nonce": f"{nonce}-{index}-{n}"}
                start = time.perf_counter()
                status, _ = await connection.request("POST", path, actor.headers, body)
                elapsed = time.perf_counter() - start
                if status == 201:
                    outcome.latencies.append(elapsed)
                else:
                    outcome.errors[status] += 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(sender(i, actor, shares[i]) for i, actor in enumerate(senders)))
    outcome.wall = time.perf_counter() - started
    return outcome


async def read_run(
    url: str,
    reader: Actor,
    requests: Sequence[tuple[str, dict[str, str]]],
    *,
    count: int,
    concurrency: int,
    time_limit: float,
    at_least: int = 5,
) -> Outcome:
    """GET ``count`` requests taken in turn from ``requests`` (path, query), ``concurrency`` at
    a time, stopping early at ``time_limit`` once ``at_least`` have been timed."""
    outcome = Outcome()
    stop_at = time.monotonic() + time_limit
    issued = 0
    targets = [f"{path}?{urlencode(params)}" if params else path for path, params in requests]

    async def worker() -> None:
        nonlocal issued
        connection = Connection(url)
        try:
            while issued < count and (issued < at_least or time.monotonic() < stop_at):
                target = targets[issued % len(targets)]
                issued += 1
                start = time.perf_counter()
                status, body = await connection.request("GET", target, reader.headers)
                elapsed = time.perf_counter() - start
                if status == 200:
                    outcome.latencies.append(elapsed)
                    if len(outcome.bodies) < 1:
                        outcome.bodies.append(body)
                else:
                    outcome.errors[status] += 1
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    outcome.wall = time.perf_counter() - started
    return outcome
