"""The gateway's own WebSocket protocol (websocket.py) under uvicorn, over real sockets: the
handshake, framing, the limits and every protocol error as RFC 6455 wants them, and the ASGI
side an application sees. A bare echo application, so nothing here depends on the gateway."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
import websockets
from websockets.utils import accept_key

from harmoniq_common.testing.infra import free_port

PROTOCOL = "harmoniq_gateway.websocket:GatewayWebSocketProtocol"
MAX_SIZE = 4096


class Echo:
    """Echoes each message; ``/close`` closes at once with 4000; ``/refuse`` never accepts;
    ``/impatient`` waits for each message with a timeout of a millisecond, again and again."""

    def __init__(self) -> None:
        self.disconnects: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        assert (await receive())["type"] == "websocket.connect"
        if scope["path"] == "/refuse":
            await send({"type": "websocket.close"})
            return
        await send({"type": "websocket.accept"})
        if scope["path"] == "/close":
            await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
        while True:
            if scope["path"] == "/impatient":
                try:
                    message = await asyncio.wait_for(receive(), 0.001)
                except TimeoutError:
                    continue
            else:
                message = await receive()
            if message["type"] == "websocket.disconnect":
                await self.disconnects.put(message)
                return
            await send({**message, "type": "websocket.send"})


@pytest_asyncio.fixture(loop_scope="session")
async def echo() -> AsyncIterator[tuple[Echo, int]]:
    app = Echo()
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=PROTOCOL, ws_max_size=MAX_SIZE, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.01)  # uvicorn offers no event for "listening"
    yield app, port
    server.should_exit = True
    await asyncio.wait_for(task, 15)


class Raw:
    """A client that writes whatever bytes a test wants."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def upgrade(cls, port: int, path: str = "/", **headers: str) -> tuple[Raw, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        fields = {
            "Host": f"127.0.0.1:{port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
            "Sec-WebSocket-Version": "13",
            **{name.replace("_", "-"): value for name, value in headers.items()},
        }
        request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        writer.write(request.encode() + b"\r\n")
        response = await reader.readuntil(b"\r\n\r\n")
        return cls(reader, writer), response

    def frame(self, opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> None:
        mask = os.urandom(4)
        head = bytes(((0x80 if fin else 0) | rsv | opcode,))
        if len(payload) < 126:
            head += bytes((0x80 | len(payload),))
        else:
            head += struct.pack("!BH", 0x80 | 126, len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    async def read(self) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload); server frames are never masked."""
        first, second = await self.reader.readexactly(2)
        assert not second & 0x80, "a server frame was masked"
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return first & 0x0F, await self.reader.readexactly(length)

    async def closed_with(self) -> int:
        """The close frame's code, then the server ends the TCP connection."""
        async with asyncio.timeout(5):
            opcode, payload = await self.read()
            assert opcode == 0x8
            assert await self.reader.read() == b""
        return int(struct.unpack("!H", payload[:2])[0])


async def test_the_handshake_answers_with_the_key_and_declines_compression(
    echo: tuple[Echo, int],
) -> None:
    _, port = echo
    key = base64.b64encode(os.urandom(16)).decode()
    client, response = await Raw.upgrade(
        port, Sec_WebSocket_Key=key, Sec_WebSocket_Extensions="permessage-deflate"
    )
    head = response.decode().lower()
    assert head.startswith("http/1.1 101 ")
    assert f"sec-websocket-accept: {accept_key(key)}".lower() in head
    assert "sec-websocket-extensions" not in head
    client.frame(0x1, b"hi")
    assert await client.read() == (0x1, b"hi")


@pytest.mark.parametrize(
    ("headers", "status", "body"),
    [
        ({"Sec_WebSocket_Version": "8"}, b"426", b"Upgrade Required"),
        ({"Sec_WebSocket_Key": "not base64 of sixteen bytes"}, b"400", b"Bad Request"),
        ({"Sec_WebSocket_Key": base64.b64encode(b"short").decode()}, b"400", b"Bad Request"),
    ],
)
async def test_a_bad_upgrade_request_is_refused(
    echo: tuple[Echo, int], headers: dict[str, str], status: bytes, body: bytes
) -> None:
    _, port = echo
    client, response = await Raw.upgrade(port, **headers)
    assert response.split(b" ")[1] == status
    if status == b"426":
        assert b"sec-websocket-version: 13" in response.lower()
    async with asyncio.timeout(5):  # the body, then the server ends the connection
        assert await client.reader.read() == body


async def test_an_application_that_closes_before_accepting_gives_403(
    echo: tuple[Echo, int],
) -> None:
    _, port = echo
    _, response = await Raw.upgrade(port, "/refuse")
    assert response.startswith(b"HTTP/1.1 403 ")


async def test_text_binary_and_large_messages_echo(echo: tuple[Echo, int]) -> None:
    _, port = echo
    async with websockets.connect(f"ws://127.0.0.1:{port}/", compression=None) as client:
        await client.send("é" * 1000)
        assert await client.recv() == "é" * 1000
        await client.send(b"\x00\xff" * 1000)
        assert await client.recv() == b"\x00\xff" * 1000


async def test_a_fragmented_message_is_reassembled_and_a_ping_between_its_parts_answered(
    echo: tuple[Echo, int],
) -> None:
    _, port = echo
    client, _ = await Raw.upgrade(port)
    client.frame(0x1, b"sp", fin=False)
    client.frame(0x9, b"are you there")
    client.frame(0x0, b"lit ", fin=False)
    client.frame(0x0, "mé".encode())
    assert await client.read() == (0xA, b"are you there")
    assert await client.read() == (0x1, "split mé".encode())


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        pytest.param(b"\x81\x02hi", 1002, id="unmasked"),
        pytest.param(None, 1002, id="reserved bits"),
        pytest.param(b"\x83\x80" + b"\x00" * 4, 1002, id="unknown opcode"),
        pytest.param(b"\x80\x80" + b"\x00" * 4, 1002, id="continuation of nothing"),
        pytest.param(b"\x09\x80" + b"\x00" * 4, 1002, id="fragmented ping"),
        pytest.param(b"\x81\x80\x00\x00\x00\x00" + b"", 0, id="empty text is fine"),
        pytest.param(b"\x81\x82\x00\x00\x00\x00\xc3\x28", 1007, id="invalid UTF-8"),
        pytest.param(b"\x88\x81\x00\x00\x00\x00\x03", 1002, id="close of one byte"),
        pytest.param(b"\x88\x82\x00\x00\x00\x00\x03\xed", 1002, id="close code 1005 sent"),
        pytest.param(b"\x88\x82\x00\x00\x00\x00\x03\xe7", 1002, id="close code 999"),
    ],
)
async def test_protocol_errors_close_with_their_code(
    echo: tuple[Echo, int], frame: bytes | None, code: int
) -> None:
    _, port = echo
    client, _ = await Raw.upgrade(port)
    if frame is None:
        client.frame(0x1, b"x", rsv=0x40)
    else:
        client.writer.write(frame)
    if code == 0:
        assert await client.read() == (0x1, b"")
        return
    assert await client.closed_with() == code


async def test_a_message_over_the_limit_is_refused_at_its_header(echo: tuple[Echo, int]) -> None:
    """1009 as soon as the header says the size: the server does not wait for the payload
    (none is ever sent here)."""
    app, port = echo
    client, _ = await Raw.upgrade(port)
    client.writer.write(struct.pack("!BBH", 0x82, 0x80 | 126, MAX_SIZE + 1) + b"\x00" * 4)
    assert await client.closed_with() == 1009
    assert (await app.disconnects.get())["code"] == 1009


async def test_fragments_over_the_limit_together_are_refused(echo: tuple[Echo, int]) -> None:
    _, port = echo
    client, _ = await Raw.upgrade(port)
    client.frame(0x2, b"x" * (MAX_SIZE // 2), fin=False)
    client.frame(0x0, b"x" * (MAX_SIZE // 2 + 1))
    assert await client.closed_with() == 1009


async def test_a_client_close_is_echoed_and_the_application_told_its_code_and_reason(
    echo: tuple[Echo, int],
) -> None:
    app, port = echo
    client, _ = await Raw.upgrade(port)
    client.frame(0x8, struct.pack("!H", 4321) + "adieu é".encode())
    assert await client.closed_with() == 4321
    disconnect = await app.disconnects.get()
    assert (disconnect["code"], disconnect["reason"]) == (4321, "adieu é")


async def test_a_server_close_ends_the_applications_receive_at_once(
    echo: tuple[Echo, int],
) -> None:
    app, port = echo
    async with websockets.connect(f"ws://127.0.0.1:{port}/close") as client:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.recv()
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "bye")
    assert (await app.disconnects.get())["code"] == 4000


async def test_a_receive_cancelled_by_its_timeout_loses_no_message(
    echo: tuple[Echo, int],
) -> None:
    """The application gives up on each receive after a millisecond: every message still
    arrives, in order (a message is never handed to a waiter that was just cancelled)."""
    _, port = echo
    async with websockets.connect(f"ws://127.0.0.1:{port}/impatient") as client:
        for burst in range(20):
            for i in range(10):
                await client.send(f"{burst}.{i}")
            await asyncio.sleep(0.002)  # the pace of the sends, not a synchronisation
        received = [await client.recv() for _ in range(200)]
    assert received == [f"{burst}.{i}" for burst in range(20) for i in range(10)]


async def test_a_client_that_vanishes_is_a_disconnect_1006(echo: tuple[Echo, int]) -> None:
    app, port = echo
    client, _ = await Raw.upgrade(port)
    client.frame(0x1, b"one")
    assert await client.read() == (0x1, b"one")
    client.writer.transport.abort()
    assert (await app.disconnects.get())["code"] == 1006
