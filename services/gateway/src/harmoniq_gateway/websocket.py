"""The gateway's own WebSocket protocol for uvicorn: ``UVICORN_WS=harmoniq_gateway.websocket:GatewayWebSocketProtocol``.

Why not uvicorn's: a gateway socket is idle for hours, and what a general-purpose protocol
keeps per connection was most of an idle session's memory (issue #15: 19.8 KiB per socket
under a bare app with websockets-sansio; the handshake's request and response with their
header maps, an ``asyncio.Queue`` and an ``Event`` (a deque each), a generator-based parser
with its buffers, keep-alive state). This one keeps a slotted object, the ASGI scope and, only
while a message waits for the application, a deque.

What it speaks: RFC 6455 as a server, no extensions (permessage-deflate is declined: clients
compress with ``?compress=zlib-stream``, docs/decisions.md), no pings of its own (the
protocol's heartbeats find dead peers), client frames masked and at most ``ws_max_size``
bytes per message (1009 at the header, before the payload is read), text checked as UTF-8
(1007), anything malformed closed with 1002. The ASGI side is the ``websocket`` scope of the
ASGI spec (connect, receive, disconnect; accept, send, close), so the application runs
unchanged under uvicorn's own protocols too. The session's frames bypass ``send`` altogether
(sinks.py writes them to :attr:`transport` between :meth:`writable` checks).

The handshake arrives whole: uvicorn's HTTP protocol parses the upgrade request and hands it
over re-serialised (``method target HTTP/1.1``, lower-case header names), then the socket.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import struct
from base64 import b64decode
from collections import deque
from typing import Any
from urllib.parse import unquote

from uvicorn.config import Config
from uvicorn.protocols.utils import (
    ClientDisconnected,
    get_client_addr,
    get_local_addr,
    get_path_with_query_string,
    get_remote_addr,
    is_ssl,
)
from uvicorn.server import ServerState
from websockets.frames import EXTERNAL_CLOSE_CODES
from websockets.speedups import apply_mask
from websockets.utils import accept_key

__all__ = ["GatewayWebSocketProtocol", "frame_header", "payload_length"]

logger = logging.getLogger("uvicorn.error")

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
# Close codes an endpoint may receive (RFC 6455 §7.4; 1005/1006/1015 are never on the wire).
_VALID_CLOSE = frozenset(EXTERNAL_CLOSE_CODES) | frozenset(range(3000, 5000))
CLOSE_TIMEOUT = 10.0  # seconds to wait for the peer's half of a closing handshake


def frame_header(opcode: int, length: int) -> bytes:
    """A final, unmasked frame's header (server frames are never masked, RFC 6455 §5.1)."""
    if length < 126:
        return bytes((0x80 | opcode, length))
    if length < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, 127, length)


def payload_length(data: bytes, start: int, length: int) -> tuple[int, int] | None:
    """A frame's payload length, from its 7-bit field ``length`` and, for 126 and 127, the 16-
    or 64-bit extension at ``data[start:]`` (RFC 6455 §5.2), and where what follows starts;
    None while the extension has not all arrived."""
    if length < 126:
        return length, start
    width = 2 if length == 126 else 8
    if len(data) - start < width:
        return None
    return int.from_bytes(data[start : start + width]), start + width


def _close_frame(code: int, reason: str) -> bytes:
    # A control frame carries at most 125 bytes: the reason is cut on a character boundary.
    payload = struct.pack("!H", code) + reason.encode()[:123].decode(errors="ignore").encode()
    return frame_header(CLOSE, len(payload)) + payload


class _Failure(Exception):
    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason


class GatewayWebSocketProtocol(asyncio.Protocol):
    __slots__ = (
        "_accept",
        "_app",
        "_app_state",
        "_buffer",
        "_close_timer",
        "_connections",
        "_default_headers",
        "_drained",
        "_ended",
        "_fragments",
        "_incoming",
        "_loop",
        "_max_size",
        "_read_paused",
        "_root_path",
        "_tasks",
        "_waiter",
        "_write_paused",
        "accepted",
        "close_sent",
        "scope",
        "transport",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self._app = config.loaded_app
        self._loop = _loop or asyncio.get_event_loop()
        self._app_state = app_state
        self._root_path = config.root_path
        self._max_size = config.ws_max_size
        self._connections = server_state.connections
        self._tasks = server_state.tasks
        self._default_headers = server_state.default_headers
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.scope: dict[str, Any] | None = None
        self.accepted = False  # the 101 (or a refusal) is written
        self.close_sent = False
        self._accept: str | None = None  # Sec-WebSocket-Accept, until the app accepts
        self._buffer = b""  # the unparsed start of the next frame
        # A fragmented message so far: its opcode, then its parts.
        self._fragments: list[Any] | None = None
        self._incoming: deque[dict[str, Any]] | None = None  # only while messages wait
        self._waiter: asyncio.Future[None] | None = None  # the app waiting in receive()
        self._ended: dict[str, Any] | None = None  # the disconnect, once there is one
        self._read_paused = False
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        self._close_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._connections.add(self)  # type: ignore[arg-type]

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)  # type: ignore[arg-type]
        self._end(1006, "")
        self.accepted = True  # nothing more may be written
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self.resume_writing()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    def eof_received(self) -> None:
        pass

    def shutdown(self) -> None:
        """uvicorn is exiting (after the gateway's own drain sent RECONNECT)."""
        if self.close_sent:
            self.transport.close()
        elif self.scope is not None and self.accepted:
            self.close(1012, "")
            self.transport.close()
        else:
            self._refuse(500, "Internal Server Error")

    def data_received(self, data: bytes) -> None:
        if self.scope is None:
            self._handshake(data)
            return
        if self._buffer:
            data = self._buffer + data
        try:
            self._buffer = data[self._frames(data) :]
        except _Failure as failure:
            self._buffer = b""
            self._fail(failure.code, failure.reason)

    # -- reading frames ---------------------------------------------------------------------

    def _frames(self, data: bytes) -> int:
        """Handle every whole frame in ``data``; returns where the unread rest starts."""
        offset, size = 0, len(data)
        while size - offset >= 2 and not self.transport.is_closing():
            first, second = data[offset], data[offset + 1]
            opcode, length, start = first & 0x0F, second & 0x7F, offset + 2
            if first & 0x70:
                raise _Failure(1002, "reserved bits set")
            if not second & 0x80:
                raise _Failure(1002, "client frames must be masked")
            extended = payload_length(data, start, length)
            if extended is None:
                break
            length, start = extended
            if opcode >= CLOSE:
                if not first & 0x80 or length > 125:
                    raise _Failure(1002, "fragmented or oversized control frame")
            elif length + sum(len(part) for part in (self._fragments or ())[1:]) > self._max_size:
                raise _Failure(1009, f"message over {self._max_size} bytes")
            end = start + 4 + length
            if size < end:
                break
            payload = apply_mask(data[start + 4 : end], data[start : start + 4])
            offset = end
            self._frame(opcode, bool(first & 0x80), payload)
        return offset

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        if opcode in (TEXT, BINARY):
            if self._fragments is not None:
                raise _Failure(1002, "expected a continuation frame")
            if fin:
                self._message(opcode, payload)
            else:
                self._fragments = [opcode, payload]
        elif opcode == 0x0:
            if self._fragments is None:
                raise _Failure(1002, "continuation of nothing")
            self._fragments.append(payload)
            if fin:
                first, *parts = self._fragments
                self._fragments = None
                self._message(first, b"".join(parts))
        elif opcode == CLOSE:
            self._closed_by_peer(payload)
        elif opcode == PING:
            if not self.close_sent:
                self.transport.write(frame_header(PONG, len(payload)) + payload)
        elif opcode != PONG:
            raise _Failure(1002, f"unknown opcode {opcode}")

    def _message(self, opcode: int, payload: bytes) -> None:
        if self.close_sent:
            return  # past its close the application reads nothing more
        message: dict[str, Any]
        if opcode == TEXT:
            try:
                message = {"type": "websocket.receive", "text": payload.decode()}
            except UnicodeDecodeError:
                raise _Failure(1007, "invalid UTF-8") from None
        else:
            message = {"type": "websocket.receive", "bytes": payload}
        if self._incoming is None:
            self._incoming = deque()
        self._incoming.append(message)
        self._wake()
        if not self._read_paused:  # until the application has read it
            self._read_paused = True
            self.transport.pause_reading()

    def _closed_by_peer(self, payload: bytes) -> None:
        if len(payload) == 1:
            raise _Failure(1002, "close frame of one byte")
        code = int.from_bytes(payload[:2]) if payload else 1005
        if payload and code not in _VALID_CLOSE:
            raise _Failure(1002, f"invalid close code {code}")
        try:
            reason = payload[2:].decode()
        except UnicodeDecodeError:
            raise _Failure(1007, "invalid UTF-8 in the close reason") from None
        if not self.close_sent:  # the peer began: echo its code, then end the TCP side
            self.close_sent = True
            self.transport.write(_close_frame(code, "") if payload else frame_header(CLOSE, 0))
            self._end(code, reason)
        self.transport.close()

    def _fail(self, code: int, reason: str) -> None:
        if not self.close_sent:
            self.close_sent = True
            self.transport.write(_close_frame(code, reason))
        self._end(code, reason)
        self.transport.close()

    # -- the handshake -----------------------------------------------------------------------

    def _handshake(self, request: bytes) -> None:
        head, _, rest = request.partition(b"\r\n\r\n")
        request_line, *lines = head.split(b"\r\n")
        method, target, _ = request_line.split(b" ", 2)
        headers = [tuple(line.split(b": ", 1)) for line in lines]
        found = {name: value for name, value in headers}
        self._buffer = rest
        path, _, query = target.partition(b"?")
        transport = self.transport
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "wss" if is_ssl(transport) else "ws",
            "server": get_local_addr(transport),
            "client": get_remote_addr(transport),
            "root_path": self._root_path,
            "path": self._root_path + unquote(path.decode("latin-1")),
            "raw_path": self._root_path.encode() + path,
            "query_string": query,
            "headers": headers,
            "subprotocols": [
                token.strip()
                for name, value in headers
                if name == b"sec-websocket-protocol"
                for token in value.decode("latin-1").split(",")
            ],
            "state": self._app_state.copy(),
        }
        key = found.get(b"sec-websocket-key", b"")
        try:
            valid_key = len(b64decode(key, validate=True)) == 16
        except binascii.Error:
            valid_key = False
        if found.get(b"sec-websocket-version") != b"13":
            self._refuse(426, "Upgrade Required", ((b"sec-websocket-version", b"13"),))
        elif method != b"GET" or not valid_key:
            self._refuse(400, "Bad Request")
        else:
            self._accept = accept_key(key.decode())
            self._incoming = deque([{"type": "websocket.connect"}])
            task = self._loop.create_task(self._run_asgi())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _refuse(
        self, status: int, phrase: str, headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        if not self.accepted:
            self.accepted = self.close_sent = True
            body = phrase.encode()
            lines = [
                f"HTTP/1.1 {status} {phrase}".encode(),
                *(name + b": " + value for name, value in [*self._default_headers, *headers]),
                b"connection: close",
                b"content-type: text/plain; charset=utf-8",
                b"content-length: " + str(len(body)).encode(),
            ]
            self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        self._end(1006, "")
        self.transport.close()

    async def _run_asgi(self) -> None:
        try:
            await self._app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            logger.exception("Exception in ASGI application\n")
            self._refuse(500, "Internal Server Error")
        else:
            if not self.accepted:
                logger.error("ASGI callable returned without completing handshake.")
                self._refuse(500, "Internal Server Error")
        if self._close_timer is None:
            self.transport.close()

    # -- the application's side (ASGI) ------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _end(self, code: int, reason: str) -> None:
        """The application's next receive (after what waits) is this disconnect."""
        if self._ended is None:
            self._ended = {"type": "websocket.disconnect", "code": code, "reason": reason}
            self._wake()

    async def receive(self) -> dict[str, Any]:
        # The waiter only wakes: a message stays queued until taken, so a receive cancelled
        # just as one arrived (the heartbeat timeout) loses nothing.
        while not self._incoming:
            if self._ended is not None:
                return self._ended
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        message = self._incoming.popleft()
        if not self._incoming:
            self._incoming = None
            if self._read_paused:
                self._read_paused = False
                if not self.transport.is_closing():
                    self.transport.resume_reading()
        return message

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self._ended is not None and self._ended["code"] == 1006:
            raise ClientDisconnected
        if not self.accepted:
            if kind == "websocket.accept":
                self._accept_handshake(message)
            elif kind == "websocket.close":
                logger.info('%s - "WebSocket %s" 403', *self._where())
                self._refuse(403, "Forbidden")
            else:
                raise RuntimeError(
                    f"Expected 'websocket.accept' or 'websocket.close', got {kind!r}"
                )
        elif self.close_sent:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} after 'websocket.close'")
        elif kind == "websocket.send":
            data = message.get("bytes")
            if data is None:
                data, opcode = message["text"].encode(), TEXT
            else:
                opcode = BINARY
            self.transport.write(frame_header(opcode, len(data)) + data)
            if self._write_paused:
                self._drained = self._drained or self._loop.create_future()
                await self._drained
        elif kind == "websocket.close":
            self.close(message.get("code") or 1000, message.get("reason") or "")
        else:
            raise RuntimeError(f"Expected 'websocket.send' or 'websocket.close', got {kind!r}")

    def _where(self) -> tuple[str, str]:
        return get_client_addr(self.scope), get_path_with_query_string(self.scope)  # type: ignore[arg-type]

    def _accept_handshake(self, message: dict[str, Any]) -> None:
        logger.info('%s - "WebSocket %s" [accepted]', *self._where())
        headers = [*self._default_headers, *message.get("headers", ())]
        if message.get("subprotocol"):
            headers.append((b"sec-websocket-protocol", message["subprotocol"].encode()))
        response = [
            b"HTTP/1.1 101 Switching Protocols",
            b"upgrade: websocket",
            b"connection: Upgrade",
            b"sec-websocket-accept: " + (self._accept or "").encode(),
            *(name + b": " + value for name, value in headers),
        ]
        self.accepted = True
        self._accept = None
        self.transport.write(b"\r\n".join(response) + b"\r\n\r\n")

    # -- for the gateway's direct path (sinks.py) --------------------------------------------

    def writable(self) -> bool:
        """Open for data frames: accepted, no close sent, the transport not closing."""
        return self.accepted and not self.close_sent and not self.transport.is_closing()

    def close(self, code: int, reason: str) -> None:
        """Send a close frame (once); the application's receive then ends with a disconnect
        at once, and the transport closes when the peer answers or after CLOSE_TIMEOUT."""
        if self.close_sent or self.transport.is_closing():
            return
        self.close_sent = True
        self.transport.write(_close_frame(code, reason))
        self._end(code, reason)
        if self._read_paused:  # to read the peer's close
            self._read_paused = False
            self.transport.resume_reading()
        self._close_timer = self._loop.call_later(CLOSE_TIMEOUT, self.transport.close)
