"""The gateway fan-out benchmark's moving parts: process meters and the swarm of clients.

- :func:`cpu_seconds`, :func:`rss_kib` and :class:`CpuMeter` read ``/proc`` (user + system
  CPU from ``/proc/<pid>/stat``, ``VmRSS`` from ``/proc/<pid>/status``), optionally with each
  process's descendants (nginx workers, Postgres backends).
- :class:`Swarm` holds N gateway clients (real WebSockets, :class:`GatewayClient` for the
  handshake, IDENTIFY and heartbeats) and one lean reader per client that timestamps every
  ``message.create`` of the run the moment it is read, so that a message's latency to each
  client is "send started" → "this client read it", and deliveries are counted exactly once
  per (client, message).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
import websockets

from gateway_client import GatewayClient

__all__ = [
    "CpuMeter",
    "Swarm",
    "cpu_seconds",
    "descendants",
    "percentile",
    "rss_kib",
]

_TICK = os.sysconf("SC_CLK_TCK")


# -- /proc ----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), 0.0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return 0.0
    fields = stat[stat.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


def rss_kib(pid: int) -> int:
    """Resident set size (``VmRSS``) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def descendants(pids: Sequence[int]) -> list[int]:
    """The given processes and everything below them, from one pass over ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


class CpuMeter:
    """CPU seconds per named group of processes between :meth:`start` and :meth:`stop`.

    Groups named in ``tree`` count their descendants too (as they are at each reading), so
    nginx's workers and Postgres's backends are included.
    """

    def __init__(self, groups: dict[str, list[int]], tree: Sequence[str] = ()) -> None:
        self._groups = groups
        self._tree = set(tree)
        self._start: dict[str, float] = {}
        self._wall = 0.0

    def read(self) -> dict[str, float]:
        out = {}
        for name, pids in self._groups.items():
            members = descendants(pids) if name in self._tree else pids
            out[name] = sum(cpu_seconds(pid) for pid in members)
        return out

    def start(self) -> None:
        self._start = self.read()
        self._wall = time.perf_counter()

    def stop(self) -> tuple[float, dict[str, float]]:
        """Wall seconds since start and each group's CPU seconds over them."""
        now = self.read()
        wall = time.perf_counter() - self._wall
        # A group with descendants loses the CPU of those that exit meanwhile (Postgres
        # backends): never below zero, and an undercount for such groups.
        return wall, {name: max(0.0, now[name] - self._start.get(name, 0.0)) for name in now}


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- the clients ----------------------------------------------------------------------------------


class _Frame(msgspec.Struct):
    op: int
    s: int | None = None
    t: str | None = None
    d: msgspec.Raw = msgspec.Raw(b"null")


class _Message(msgspec.Struct):
    content: str


class _MessageCreate(msgspec.Struct):
    message: _Message


_frames = msgspec.json.Decoder(_Frame)
_creates = msgspec.json.Decoder(_MessageCreate)


@dataclass(eq=False)
class _Member:
    index: int
    gateway: GatewayClient
    got: bytearray
    reader: asyncio.Task[None] | None = None


@dataclass
class Connected:
    clients: int  # connected (READY) in the end
    seconds: float  # first connect → last READY
    identify_ms: list[float]  # each client's connect → READY
    retries: int  # upgrades refused (429 from nginx's per-address guard) and tried again
    failures: dict[str, int]  # connections closed before READY (then tried again), by code


@dataclass
class Swarm:
    """N connected, identified, heartbeating clients and what they have read."""

    server_id: str
    channel_id: str
    members: list[_Member] = field(default_factory=list)
    closes: Counter[str] = field(default_factory=Counter)
    other_frames: Counter[str] = field(default_factory=Counter)
    # The measured run: message index -> latency of each delivery (seconds).
    tag: str = ""
    sent_at: list[float] = field(default_factory=list)
    latencies: list[list[float]] = field(default_factory=list)
    duplicates: int = 0
    delivered: int = 0
    _target: int = 0
    _all_in: asyncio.Event = field(default_factory=asyncio.Event)
    # Warm-up messages (tag "warm"): just counted.
    warm_delivered: int = 0
    # Other dispatches being timed (a role change): event type -> when each client read it.
    arrivals: dict[str, list[float]] = field(default_factory=dict)

    # -- connecting -------------------------------------------------------------------------

    async def connect(
        self,
        urls: Sequence[str],
        tokens: Sequence[str],
        *,
        concurrency: int,
        deflate: bool = True,
        attempts: int = 5,
    ) -> Connected:
        """Connect ``len(tokens)`` clients, the i-th to ``urls[i % len(urls)]``, and IDENTIFY.

        An upgrade refused with 429 (nginx's per-address guard) is retried after a pause; a
        connection the gateway closes before READY is tried again too, as a real client would
        (``attempts`` times in all), and counted in ``failures`` by close code or error. A
        client that fails every attempt is left out (``Connected.clients`` says how many are
        in)."""
        gate = asyncio.Semaphore(concurrency)
        identify_ms: list[float] = []
        retries = 0
        failures: Counter[str] = Counter()

        async def handshake(url: str) -> GatewayClient:
            nonlocal retries
            for attempt in range(50):
                try:
                    if deflate:  # what browsers and websockets negotiate by default
                        return await GatewayClient.connect(url)
                    connection = await websockets.connect(url, max_size=2**24, compression=None)
                    client = GatewayClient(connection, "json", False)
                    client.hello = await client.receive()
                    return client
                except websockets.InvalidStatus as refused:
                    if refused.response.status_code != 429 or attempt == 49:
                        raise
                    retries += 1
                    await asyncio.sleep(0.05 * (1 + attempt % 10))
            raise AssertionError("unreachable")

        async def one(index: int, token: str) -> None:
            url = urls[index % len(urls)] + "/gateway"
            async with gate:
                started = time.perf_counter()
                for attempt in range(attempts):
                    try:
                        client = await handshake(url)
                        ready = await client.identify(token)
                        break
                    except websockets.ConnectionClosed as closed:
                        code = closed.rcvd.code if closed.rcvd else 1006
                        reason = closed.rcvd.reason if closed.rcvd else "no close frame"
                        failures[f"{code} {reason}"] += 1
                    except (OSError, TimeoutError, websockets.InvalidHandshake) as failed:
                        failures[f"{type(failed).__name__}: {failed}"[:120]] += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                else:
                    return  # given up: not connected (counted in failures)
                identify_ms.append((time.perf_counter() - started) * 1000)
            self._check_ready(ready)
            member = _Member(index, client, bytearray())
            client.start_heartbeats()
            member.reader = asyncio.create_task(self._read(member))
            self.members.append(member)

        started = time.perf_counter()
        await asyncio.gather(*(one(i, token) for i, token in enumerate(tokens)))
        return Connected(
            len(self.members),
            time.perf_counter() - started,
            identify_ms,
            retries,
            dict(failures),
        )

    def _check_ready(self, ready: dict[str, object]) -> None:
        servers = ready["d"]["servers"]  # type: ignore[index]
        for snapshot in servers:
            if snapshot["server"]["id"] == self.server_id and any(
                c["id"] == self.channel_id for c in snapshot["channels"]
            ):
                return
        raise RuntimeError(f"READY without server {self.server_id} / channel {self.channel_id}")

    async def close(self, *, concurrency: int = 200) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(member: _Member) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await member.gateway.close()
            if member.reader is not None:
                with contextlib.suppress(Exception):
                    await member.reader

        await asyncio.gather(*(one(m) for m in self.members))
        self.members.clear()

    # -- reading ----------------------------------------------------------------------------

    async def _read(self, member: _Member) -> None:
        gateway = member.gateway
        try:
            while True:
                # Bytes as they came: msgspec decodes UTF-8 itself, so skip websockets' str.
                raw = await gateway.connection.recv(decode=False)
                now = time.perf_counter()
                frame = _frames.decode(raw)
                if frame.s is not None:
                    gateway.seq = frame.s
                if frame.t == "message.create":
                    self._arrived(member, _creates.decode(frame.d).message.content, now)
                else:
                    self.other_frames[frame.t or f"op{frame.op}"] += 1
                    if frame.t in self.arrivals:
                        self.arrivals[frame.t].append(now)
        except websockets.ConnectionClosedOK:
            self.closes["1000 (normal)"] += 1
        except websockets.ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            reason = closed.rcvd.reason if closed.rcvd else "no close frame"
            self.closes[f"{code} {reason}"] += 1

    def _arrived(self, member: _Member, content: str, now: float) -> None:
        tag, _, rest = content.partition(" ")
        if tag == "warm":
            self.warm_delivered += 1
            return
        if tag != self.tag:
            return
        index = int(rest.partition(" ")[0])
        if member.got[index]:
            self.duplicates += 1
            return
        member.got[index] = 1
        self.latencies[index].append(now - self.sent_at[index])
        self.delivered += 1
        if self.delivered == self._target:
            self._all_in.set()

    # -- a measured run ---------------------------------------------------------------------

    def expect(self, tag: str, messages: int) -> None:
        """Get ready to count ``messages`` messages whose content starts with ``tag``."""
        self.tag = tag
        self.sent_at = [0.0] * messages
        self.latencies = [[] for _ in range(messages)]
        self.delivered = 0
        self.duplicates = 0
        self._target = messages * len(self.members)
        self._all_in = asyncio.Event()
        for member in self.members:
            member.got = bytearray(messages)

    async def all_delivered(self, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._all_in.wait()
            return True
        except TimeoutError:
            return False

    @property
    def open_connections(self) -> int:
        return sum(1 for m in self.members if m.reader is not None and not m.reader.done())
