"""A gateway client for tests and benchmarks: speaks the protocol over a real WebSocket.

Test support, not shipped: importable as ``gateway_client`` in every test (the pytest
``pythonpath`` setting) and in ``bench/`` (which puts ``tests/support`` on its path).
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from harmoniq_gateway.protocol import Op

__all__ = ["GatewayClient"]


class GatewayClient:
    def __init__(self, connection: ClientConnection, encoding: str, compressed: bool) -> None:
        self.connection = connection
        self._encoding = encoding
        self._inflater = zlib.decompressobj() if compressed else None
        self.hello: dict[str, Any] = {}
        self.seq: int | None = None
        self.session_id: str | None = None
        self._heartbeats: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls, url: str, *, encoding: str = "json", compress: bool = False
    ) -> GatewayClient:
        query = f"?encoding={encoding}" + ("&compress=zlib-stream" if compress else "")
        connection = await websockets.connect(url + query, max_size=2**24)
        client = cls(connection, encoding, compress)
        client.hello = await client.receive()
        assert client.hello["op"] == Op.HELLO, client.hello
        return client

    def start_heartbeats(self) -> None:
        """Heartbeat at half the server's interval, as a real client does, until closed."""
        interval = self.hello["d"]["heartbeat_interval"] / 1000 / 2

        async def beat() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    await asyncio.sleep(interval)
                    await self.send(Op.HEARTBEAT, self.seq)

        self._heartbeats = asyncio.create_task(beat())

    async def send(self, op: int, d: Any = None) -> None:
        frame = {"op": op, "d": d}
        if self._encoding == "json":
            await self.connection.send(msgspec.json.encode(frame).decode())
        else:
            await self.connection.send(msgspec.msgpack.encode(frame))

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), timeout)
        data = raw.encode() if isinstance(raw, str) else raw
        if self._inflater is not None:
            data = self._inflater.decompress(data)
        frame: dict[str, Any] = (
            msgspec.json.decode(data) if self._encoding == "json" else msgspec.msgpack.decode(data)
        )
        if frame.get("s") is not None:
            self.seq = frame["s"]
        return frame

    async def dispatch(
        self, event_type: str | None = None, timeout: float = 10.0
    ) -> dict[str, Any]:
        """The next dispatch (of this type: others before it are skipped), within ``timeout``."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive(timeout)
                if frame["op"] == Op.DISPATCH and (event_type is None or frame["t"] == event_type):
                    return frame

    async def frames_until_ack(self) -> list[dict[str, Any]]:
        """Send a heartbeat; every frame that came before its acknowledgement. Frames are
        written in order, so this is what the gateway had queued for the client when it read
        the heartbeat: an event delivered to all its recipients by then is here, or not
        meant for this client."""
        await self.send(Op.HEARTBEAT, self.seq)
        frames: list[dict[str, Any]] = []
        while (frame := await self.receive())["op"] != Op.HEARTBEAT_ACK:
            frames.append(frame)
        return frames

    async def types_until_ack(self) -> set[str | None]:
        """The dispatch types among :meth:`frames_until_ack` (``None`` for other frames)."""
        return {frame.get("t") for frame in await self.frames_until_ack()}

    async def identify(self, token: str) -> dict[str, Any]:
        await self.send(Op.IDENTIFY, {"token": token, "properties": {"os": "test"}})
        ready = await self.dispatch("ready")
        self.session_id = ready["d"]["session_id"]
        return ready

    async def closed(self, timeout: float = 10.0) -> tuple[int, str]:
        """Wait for the server to close; its code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.connection.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code, frame.reason) if frame else (1006, "")

    async def close(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        await self.connection.close()
