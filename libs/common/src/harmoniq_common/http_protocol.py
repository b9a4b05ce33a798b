"""uvicorn's HTTP protocol, writing a response's head and body in one system call:
``uvicorn --http harmoniq_common.http_protocol:HttpProtocol`` (deploy/fleet.py, the image).

uvicorn writes the status line and headers when the application sends ``http.response.start``
and the body when it sends ``http.response.body``: two ``write`` calls, so two system calls
for every answer, and on loopback each also runs the reader's side of TCP. Measured on a bare
ASGI app with 16 keep-alive connections, one write instead of two took the server from 74-80
to 50-64 µs of CPU per request (issue #15; within a ~2 ms send it is below the noise, and
py-spy's "~8 % in the two writes" overstated it). This protocol holds
the head until the body's first write and hands both to the transport at once; everything else
(parsing, keep-alive, pipelining, flow control, upgrades) is uvicorn's own.

The head is released at the latest when the response completes (a ``HEAD`` answer, whose body
uvicorn never writes) or the connection closes (an application that failed after starting).
Interim answers (``100 Continue``) are written at once, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpProtocol"]

_INTERIM = b"HTTP/1.1 1"


class _HeadHeldUntilBody:
    """The transport of one request-response cycle: its first final-status write (the head)
    waits for the next write (the body) or the end of the response."""

    __slots__ = ("_head", "_started", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self.transport.writelines((head, data))
        elif not self._started and not data.startswith(_INTERIM):
            self._started = True
            self._head = data
        else:
            self.transport.write(data)

    def release(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self.transport.write(head)

    def close(self) -> None:
        self.release()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class HttpProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None or cycle is previous:  # an upgrade: the socket is not ours to hold
            return
        writer = _HeadHeldUntilBody(self.transport)
        cycle.transport = writer  # type: ignore[assignment]
        cycle.on_response = _released_first(writer, cycle.on_response)


def _released_first(writer: _HeadHeldUntilBody, then: Callable[[], None]) -> Callable[[], None]:
    def on_response() -> None:
        writer.release()
        then()

    return on_response
