"""Where a session's frames go: straight to the connection's transport, or through ASGI.

Through Litestar's and uvicorn's ASGI layers a frame cost the gateway ~25 µs per socket (the
issue #15 profile: send wrappers, a websockets ``Frame`` object, one write per frame), so a
1,000-socket channel topped out near 35,000 frames/s. Under the gateway's own WebSocket
protocol (websocket.py, the object its ASGI ``send`` is bound to) a session writes prepared
frames to that protocol's transport itself: a frame is a header of 2 to 10 bytes before the
payload every recipient shares (server frames are unmasked and never fragmented here, RFC 6455
§5.2), and all the frames a socket gets in one turn of the event loop leave in one write.
Control frames (pong, close) are the protocol's; both sides write whole frames with one
``transport.write``, so they never interleave inside a frame.

A client whose unsent bytes pass the limit is disconnected (it may resume): the bound on what
a slow reader can cost, and the first thing shed under overload. Under another server, or
before a connection exists, frames take the ASGI path or wait in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from litestar import WebSocket

from .metrics import CLOSES
from .websocket import GatewayWebSocketProtocol, frame_header

__all__ = [
    "RAW_SEND",
    "AsgiSink",
    "DirectSink",
    "PendingFrames",
    "Sink",
    "set_flush_window",
    "sink_for",
]

# The scope key under which the app keeps the server's own ASGI ``send`` (app.py).
RAW_SEND = "harmoniq.raw_send"

# A close nobody chose: the client went away (or the writer ended); counted apart.
GONE = "closing"


class Sink(Protocol):
    # True when closing the session ends the connection's pending receive by itself (the
    # reader then needs no second task to watch for the close).
    ends_receive: bool

    def write(self, payload: bytes) -> bool:
        """Queue one frame's payload; False when the client is too far behind."""

    def closing(self, code: int, reason: str) -> None:
        """The session closed: what is queued goes out, and the close when the sink can."""

    async def finish(self, code: int, reason: str) -> None:
        """Everything queued goes out, then the close frame."""


class PendingFrames:
    """Frames sent before the connection's sink is attached (READY being built)."""

    ends_receive = False

    def __init__(self, limit: int) -> None:
        self.frames: list[bytes] = []
        self._limit = limit

    def write(self, payload: bytes) -> bool:
        self.frames.append(payload)
        return len(self.frames) <= self._limit

    def write_first(self, payload: bytes) -> None:
        """Ahead of every frame waiting (READY ahead of the events it is the snapshot for)."""
        self.frames.insert(0, payload)

    def closing(self, code: int, reason: str) -> None:
        pass

    async def finish(self, code: int, reason: str) -> None:
        self.frames.clear()


class Flushable(Protocol):
    def flush(self) -> None: ...


class _Flusher:
    """Writes every sink with frames pending, once per turn of the event loop.

    With a window, a flush that wrote to at least ``wide`` sockets holds the next one back
    until ``window`` seconds after it: a large channel's events, a few milliseconds apart, then
    leave several to a write (one system call per socket in the gateway, nginx and the client
    instead of one per frame), for at most ``window`` of added latency. Off (0) by default:
    docs/decisions.md, "Gateway"."""

    def __init__(self) -> None:
        self._dirty: list[Flushable] = []
        self.window = 0.0
        self.wide = 256
        self._last_wide = float("-inf")  # loop time of the last wide flush

    def add(self, sink: Flushable) -> None:
        if not self._dirty:
            loop = asyncio.get_running_loop()
            wait = self._last_wide + self.window - loop.time()
            if wait > 0:
                loop.call_later(wait, self._flush)
            else:
                loop.call_soon(self._flush)
        self._dirty.append(sink)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        if self.window and len(dirty) >= self.wide:
            self._last_wide = asyncio.get_running_loop().time()
        for sink in dirty:
            sink.flush()


_flusher = _Flusher()


def set_flush_window(seconds: float, wide_sockets: int) -> None:
    """The process's flush window (settings ``flush_window_ms``, ``flush_window_sockets``)."""
    _flusher.window, _flusher.wide = seconds, wide_sockets
    _flusher._last_wide = float("-inf")


class DirectSink:
    """Closing through the protocol also hands the reader its disconnect, so a session closed
    by the gateway ends its connection's receive without a watcher task."""

    ends_receive = True
    __slots__ = ("_limit", "_opcode", "_pending", "_pending_bytes", "_protocol", "_transport")

    def __init__(self, protocol: GatewayWebSocketProtocol, binary: bool, limit_bytes: int) -> None:
        self._protocol = protocol
        self._transport = protocol.transport
        self._opcode = 0x2 if binary else 0x1
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._limit = limit_bytes

    def write(self, payload: bytes) -> bool:
        if not self._pending:
            _flusher.add(self)
        self._pending.append(frame_header(self._opcode, len(payload)))
        self._pending.append(payload)
        self._pending_bytes += len(payload)
        return self._transport.get_write_buffer_size() + self._pending_bytes <= self._limit

    def flush(self) -> None:
        if self._pending and self._protocol.writable():
            self._transport.write(b"".join(self._pending))
        self._pending.clear()
        self._pending_bytes = 0

    def closing(self, code: int, reason: str) -> None:
        self.flush()
        self._protocol.close(code, reason)

    async def finish(self, code: int, reason: str) -> None:
        self.flush()
        CLOSES.labels(code="client" if reason == GONE else str(code)).inc()
        self._protocol.close(code, reason)


class AsgiSink:
    """Frames through ASGI, one at a time, by a writer task (any ASGI server)."""

    ends_receive = False

    def __init__(self, socket: WebSocket[Any, Any, Any], binary: bool, limit: int) -> None:
        self._socket = socket
        self._binary = binary
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(limit)
        self._writer = asyncio.create_task(self._write_all())

    def write(self, payload: bytes) -> bool:
        try:
            self._queue.put_nowait(payload)
        except asyncio.QueueFull:
            return False
        return True

    async def _write_all(self) -> None:
        while (payload := await self._queue.get()) is not None:
            if self._binary:
                await self._socket.send_bytes(payload)
            else:
                await self._socket.send_text(payload.decode())

    async def finish(self, code: int, reason: str) -> None:
        while True:  # the end marker goes in even when the queue is full
            try:
                self._queue.put_nowait(None)
                break
            except asyncio.QueueFull:
                self._queue.get_nowait()
        with contextlib.suppress(Exception):
            await self._writer
        await _close(self._socket, code, reason)

    def closing(self, code: int, reason: str) -> None:
        pass  # the reader watches the session; finish() closes


async def _close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    CLOSES.labels(code="client" if reason == GONE else str(code)).inc()
    await _quiet_close(socket, code, reason)


async def _quiet_close(socket: WebSocket[Any, Any, Any], code: int, reason: str) -> None:
    """Closed already (by the other side): fine."""
    with contextlib.suppress(Exception):
        await socket.close(code=code, reason=reason)


def sink_for(
    socket: WebSocket[Any, Any, Any], binary: bool, limit_frames: int, limit_bytes: int
) -> Sink:
    protocol = getattr(socket.scope.get(RAW_SEND), "__self__", None)  # type: ignore[call-overload]
    if isinstance(protocol, GatewayWebSocketProtocol) and protocol.accepted:
        return DirectSink(protocol, binary, limit_bytes)
    return AsgiSink(socket, binary, limit_frames)
