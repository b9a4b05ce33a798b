"""The gateway fan-out benchmark's moving parts: process meters and the swarm of clients.

- :func:`cpu_seconds`, :func:`rss_kib` and :class:`CpuMeter` read ``/proc`` (user + system
  CPU from ``/proc/<pid>/stat``, ``VmRSS`` from ``/proc/<pid>/status``), optionally with each
  process's descendants (nginx workers, Postgres backends).
- :class:`Swarm` holds N gateway clients (real WebSockets through :class:`LeanSocket`: the
  handshake, IDENTIFY, heartbeats) that timestamp every ``message.create`` of the run the
  moment it is read, so that a message's latency to each
  client is "send started" → "this client read it", and deliveries are counted exactly once
  per (client, message).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec
from websockets.speedups import apply_mask
from websockets.utils import generate_key

from harmoniq_gateway.websocket import payload_length

__all__ = [
    "CpuMeter",
    "Swarm",
    "cpu_seconds",
    "cpu_split",
    "descendants",
    "percentile",
    "rss_kib",
    "syscalls",
]

_TICK = os.sysconf("SC_CLK_TCK")


# -- /proc ----------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), 0.0 if it is gone."""
    user, system = cpu_split(pid)
    return user + system


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system (kernel) CPU seconds of one process, zeros if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return 0.0, 0.0
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK  # utime, stime (fields 14, 15)


def syscalls(pid: int) -> int:
    """Read and write system calls of one process so far (``syscr`` + ``syscw`` from
    ``/proc/<pid>/io``; sends, receives and the like, not epoll), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/io") as f:
            return sum(int(line.split()[1]) for line in f if line.startswith(("syscr", "syscw")))
    except (FileNotFoundError, PermissionError):
        return 0


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
    """CPU seconds (and the kernel's part of them), and read/write system calls, per named
    group of processes between :meth:`start` and :meth:`stop`.

    Groups named in ``tree`` count their descendants too (as they are at each reading), so
    nginx's workers and Postgres's backends are included.
    """

    def __init__(self, groups: dict[str, list[int]], tree: Sequence[str] = ()) -> None:
        self._groups = groups
        self._tree = set(tree)
        self._start: dict[str, tuple[float, float, int]] = {}
        self._wall = 0.0
        # Each group's over the last start → stop: system CPU seconds, system calls.
        self.system: dict[str, float] = {}
        self.syscalls: dict[str, int] = {}

    def read(self) -> dict[str, tuple[float, float, int]]:
        """Each group's (user CPU s, system CPU s, read/write system calls) so far."""
        out = {}
        for name, pids in self._groups.items():
            members = descendants(pids) if name in self._tree else pids
            splits = [cpu_split(pid) for pid in members]
            out[name] = (
                sum(user for user, _ in splits),
                sum(system for _, system in splits),
                sum(syscalls(pid) for pid in members),
            )
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
        zero = (0.0, 0.0, 0)
        delta = {
            name: [
                max(0, a - b) for a, b in zip(now[name], self._start.get(name, zero), strict=True)
            ]
            for name in now
        }
        self.system = {name: d[1] for name, d in delta.items()}
        self.syscalls = {name: int(d[2]) for name, d in delta.items()}
        return wall, {name: d[0] + d[1] for name, d in delta.items()}


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


class Refused(Exception):
    """The upgrade was answered with another status than 101 (429: nginx's per-address guard)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"upgrade refused with {status}")
        self.status = status


class LeanSocket(asyncio.Protocol):
    """The swarm's client side of a WebSocket, as little Python per frame as it can be.

    A client of the bench runs on the same two cores as the fleet, so what it spends per frame
    is taken from what it measures: through the ``websockets`` library (futures, a frame
    object and an assembler per message) it cost 30-50 µs per frame, more than the gateway and
    nginx together at N = 1,000. Here frames are parsed where they land (``data_received``)
    and handed to a callback. Server frames are unmasked and never fragmented (the gateway's
    protocol, RFC 6455 §5.1); ours are masked as a client's must be. No extension is offered
    (the gateway declines permessage-deflate anyway)."""

    def __init__(self, request: bytes) -> None:
        self._request = request
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        self._open = False
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue: asyncio.Queue[bytes] | None = asyncio.Queue()  # until on_frame is set
        self.on_frame: Callable[[bytes, float], None] | None = None
        self.close_code: int | None = None
        self.close_reason = ""

    @classmethod
    async def open(cls, url: str) -> LeanSocket:
        address = urlsplit(url)
        target = address.path + (f"?{address.query}" if address.query else "")
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {generate_key()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        _, socket = await loop.create_connection(
            lambda: cls(request), address.hostname, address.port
        )
        await socket.handshake
        return socket

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError("closed during the handshake"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        if self._buffer:
            data = self._buffer + data
        if not self._open:
            data = self._handshake(data)
            if not self._open:
                return
        self._buffer = data[self._frames(data, time.perf_counter()) :]

    def _handshake(self, data: bytes) -> bytes:
        """The 101 and what follows it (the first frames may share its packet)."""
        head, found, rest = data.partition(b"\r\n\r\n")
        if not found:
            self._buffer = head
            return b""
        self._buffer = b""
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            self.handshake.set_exception(Refused(status))
            assert self._transport is not None
            self._transport.close()
            return b""
        self._open = True
        self.handshake.set_result(None)
        return rest

    def _frames(self, data: bytes, now: float) -> int:
        """Each whole frame in ``data``; where the unread rest starts."""
        offset, size = 0, len(data)
        while size - offset >= 2:
            opcode, length, start = data[offset] & 0x0F, data[offset + 1] & 0x7F, offset + 2
            extended = payload_length(data, start, length)
            if extended is None:
                break
            length, start = extended
            if size - start < length:
                break
            payload, offset = data[start : start + length], start + length
            if opcode in (0x1, 0x2):
                if self.on_frame is not None:
                    self.on_frame(payload, now)
                elif self.queue is not None:
                    self.queue.put_nowait(payload)
            elif opcode == 0x8:
                self._closed_by_server(payload)
            elif opcode == 0x9:
                self._write(0xA, payload)
        return offset

    def _closed_by_server(self, payload: bytes) -> None:
        if self.close_code is None:
            self.close_code = int.from_bytes(payload[:2]) if len(payload) >= 2 else 1005
            self.close_reason = payload[2:].decode(errors="replace")
            self._write(0x8, payload[:2])
        assert self._transport is not None
        self._transport.close()

    def _write(self, opcode: int, payload: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            return
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            head = bytes((0x80 | opcode, 0x80 | length))
        else:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        self._transport.write(head + mask + apply_mask(payload, mask))

    def send(self, op: int, d: Any = None) -> None:
        self._write(0x1, msgspec.json.encode({"op": op, "d": d}))

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next frame, before the callback takes over."""
        assert self.queue is not None
        getting = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait(
            {getting, self.lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if getting not in done:
            getting.cancel()
            if self.lost.done():
                raise ConnectionError(f"closed: {self.close_code} {self.close_reason}")
            raise TimeoutError
        decoded: dict[str, Any] = msgspec.json.decode(getting.result())
        return decoded

    async def close(self, timeout: float = 10.0) -> None:
        if self.close_code is None:
            self.close_code = 1000
            self._write(0x8, struct.pack("!H", 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.lost), timeout)
        if self._transport is not None:
            self._transport.close()

    @property
    def closed(self) -> bool:
        return self.lost.done()


class LeanHttp:
    """One keep-alive HTTP/1.1 connection of a bench sender: a request written as bytes, the
    answer read by its ``content-length``. Through httpx a send cost the bench 2.2-3.3 ms of
    client CPU on the same two cores as the fleet (a third of everything a message cost at
    N = 0); this costs a tenth of that. One request at a time per connection; a connection the
    server says it closes (``connection: close``, nginx's ``keepalive_requests``) is replaced
    before the next request."""

    def __init__(self, url: str) -> None:
        address = urlsplit(url)
        self._host = address.hostname or "127.0.0.1"
        self._port = address.port or 80
        self._netloc = address.netloc.encode()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post_json(self, path: str, authorization: str, body: bytes) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (path.encode(), self._netloc, authorization.encode(), len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        length, closing = 0, False
        for line in head.lower().split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and b"close" in value:
                closing = True
        answer = await reader.readexactly(length)
        if closing:
            self.close()
        return int(head[9:12]), answer

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


async def identified(socket: LeanSocket, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """HELLO, then IDENTIFY until READY: (hello, ready)."""
    hello = await socket.receive()
    socket.send(2, {"token": token, "properties": {"os": "bench"}})
    while (frame := await socket.receive())["t"] != "ready":
        pass
    return hello, frame


@dataclass(eq=False)
class _Member:
    index: int
    socket: LeanSocket
    got: bytearray
    seq: int | None = None
    beats: asyncio.Task[None] | None = None


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

        async def handshake(url: str) -> LeanSocket:
            nonlocal retries
            for attempt in range(50):
                try:
                    return await LeanSocket.open(url)
                except Refused as refused:
                    if refused.status != 429 or attempt == 49:
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
                        socket = await handshake(url)
                        hello, ready = await identified(socket, token)
                        break
                    except (OSError, TimeoutError, Refused) as failed:
                        failures[f"{type(failed).__name__}: {failed}"[:120]] += 1
                    await asyncio.sleep(0.2 * (attempt + 1))
                else:
                    return  # given up: not connected (counted in failures)
                identify_ms.append((time.perf_counter() - started) * 1000)
            self._check_ready(ready)
            member = _Member(index, socket, bytearray(), ready.get("s"))
            socket.queue = None
            socket.on_frame = lambda raw, now: self._read(member, raw, now)
            interval = hello["d"]["heartbeat_interval"] / 1000 / 2  # half, as a real client
            member.beats = asyncio.create_task(self._beat(member, interval))
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

    @staticmethod
    async def _beat(member: _Member, interval: float) -> None:
        while not member.socket.closed:
            await asyncio.sleep(interval)
            member.socket.send(1, member.seq)

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
            if member.beats is not None:
                member.beats.cancel()
            async with gate:
                await member.socket.close()
            code = member.socket.close_code
            self.closes[
                "1000 (normal)" if code == 1000 else f"{code} {member.socket.close_reason}"
            ] += 1

        await asyncio.gather(*(one(m) for m in self.members))
        self.members.clear()

    # -- reading ----------------------------------------------------------------------------

    def _read(self, member: _Member, raw: bytes, now: float) -> None:
        frame = _frames.decode(raw)
        if frame.s is not None:
            member.seq = frame.s
        if frame.t == "message.create":
            self._arrived(member, _creates.decode(frame.d).message.content, now)
        else:
            self.other_frames[frame.t or f"op{frame.op}"] += 1
            if frame.t in self.arrivals:
                self.arrivals[frame.t].append(now)

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
        return sum(1 for m in self.members if not m.socket.closed)
