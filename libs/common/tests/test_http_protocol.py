"""The HTTP protocol every service runs (``--http harmoniq_common.http_protocol:HttpProtocol``):
uvicorn's, with a response's head and body handed to the socket in one write. Real uvicorn
servers on loopback, real sockets; the write pattern is read from the server's transport."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from harmoniq_common.http_protocol import HttpProtocol

WRITES: list[list[bytes]] = []


class RecordingTransport:
    """The server's real transport, recording what reaches it: one entry per write."""

    def __init__(self, transport: asyncio.Transport, writes: list[bytes]) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def writelines(self, parts: Any) -> None:
        parts = [bytes(part) for part in parts]
        self._writes.append(b"".join(parts))
        self._transport.writelines(parts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CountingProtocol(HttpProtocol):
    """Records each write reaching the real transport (one list per connection)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        WRITES.append([])
        super().connection_made(RecordingTransport(transport, WRITES[-1]))  # type: ignore[arg-type]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    path = scope["path"]
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/fail-after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("the application failed after starting its answer")
    else:
        answer = b"echo:" + body if body else b"hello"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})


@contextlib.asynccontextmanager
async def server() -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=CountingProtocol, lifespan="on", log_level="critical")
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve(sockets=[sock]))
    while not instance.started:
        await asyncio.sleep(0.01)
    WRITES.clear()
    try:
        yield port
    finally:
        instance.should_exit = True
        await task


async def exchange(port: int, request: bytes, *, until: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    received = b""
    while until not in received:
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        if not chunk:
            break
        received += chunk
    writer.close()
    return received


@pytest.mark.asyncio
async def test_head_and_body_leave_in_one_write() -> None:
    async with server() as port:
        answer = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", until=b"hello")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nhello")
    assert len(WRITES[0]) == 1, WRITES[0]
    assert WRITES[0][0] == answer


@pytest.mark.asyncio
async def test_keep_alive_and_pipelined_requests_each_answered_in_order() -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n"
    async with server() as port:
        answer = await exchange(port, request + b"a" + request + b"b", until=b"echo:b")
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert answer.index(b"echo:a") < answer.index(b"echo:b")
    assert len(WRITES[0]) == 2  # one per answer


@pytest.mark.asyncio
async def test_head_request_gets_its_head_without_a_body() -> None:
    async with server() as port:
        answer = await exchange(port, b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", until=b"\r\n\r\n")
        # The connection stays usable: the head was released when the answer completed.
        second = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", until=b"hello")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\n")
    assert b"content-length: 5" in answer
    assert second.endswith(b"hello")


@pytest.mark.asyncio
async def test_no_content_and_streamed_answers() -> None:
    async with server() as port:
        empty = await exchange(port, b"GET /empty HTTP/1.1\r\nHost: x\r\n\r\n", until=b"\r\n\r\n")
        stream = await exchange(
            port, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", until=b"0\r\n\r\n"
        )
    assert empty.startswith(b"HTTP/1.1 204 No Content\r\n")
    assert b"transfer-encoding: chunked" in stream
    assert b"4\r\none \r\n" in stream and b"5\r\nthree\r\n0\r\n\r\n" in stream
    # the head went out with the first chunk, the other chunks on their own
    assert WRITES[1][0].startswith(b"HTTP/1.1 200 OK") and WRITES[1][0].endswith(b"one \r\n")
    assert len(WRITES[1]) == 4


@pytest.mark.asyncio
async def test_continue_is_written_at_once_before_the_answer() -> None:
    async with server() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        writer.write(b"hi")
        final = await asyncio.wait_for(reader.readuntil(b"echo:hi"), 5)
        writer.close()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 200 OK")


@pytest.mark.asyncio
async def test_an_application_failing_after_its_head_closes_the_connection() -> None:
    async with server() as port:
        answer = await exchange(
            port, b"GET /fail-after-start HTTP/1.1\r\nHost: x\r\n\r\n", until=b"never"
        )
    # The head that was started is released, then the connection closes: no hang.
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert b"transfer-encoding: chunked" in answer and not answer.endswith(b"0\r\n\r\n")
