"""The memory floor of an idle WebSocket under uvicorn, to compare the gateway's with.

Runs uvicorn (uvloop, httptools, no pings, no permessage-deflate: the gateway's options) with
a bare ASGI app that accepts and waits, opens ``--connections`` sockets to it from this
process, and prints the server's RSS growth per connection, for each WebSocket protocol
uvicorn offers. Bounded and loopback only.

``.venv/bin/python bench/run.py floor [--connections 2000]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import socket
import subprocess
import sys
import time
from typing import Any

import websockets

# uvicorn's two, and the gateway's own (services/gateway/.../websocket.py).
PROTOCOLS = (
    "websockets-sansio",
    "wsproto",
    "harmoniq_gateway.websocket:GatewayWebSocketProtocol",
)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accept, then wait for the disconnect: the least a server can hold per socket."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def _rss_kib(pid: int) -> int:
    """Here, not from gateway_load: uvicorn imports this module alone, as the app."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)  # polling a port: there is no event to await
    raise TimeoutError("uvicorn did not listen")


async def _per_connection(protocol: str, connections: int) -> float:
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "uvicorn", "websocket_floor:app", "--app-dir", "bench"),
            *("--port", str(port), "--ws", protocol, "--ws-ping-interval", "0"),
            *("--ws-per-message-deflate", "false", "--loop", "uvloop", "--http", "httptools"),
            *("--log-level", "warning"),
        ],
    )
    try:
        await _listening(port, time.monotonic() + 20)
        url = f"ws://127.0.0.1:{port}/"
        warm = [await websockets.connect(url) for _ in range(20)]
        before = _rss_kib(server.pid)
        opened = []
        for _ in range(0, connections, 100):
            opened += await asyncio.gather(*(websockets.connect(url) for _ in range(100)))
        grown = _rss_kib(server.pid) - before
        for connection in warm + opened:
            await connection.close()
        return grown / len(opened)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="run.py floor")
    parser.add_argument("--connections", type=int, default=2000)
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * args.connections + 200))  # the server inherits it too
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    print(f"# idle WebSocket memory floor under uvicorn, {args.connections} connections")
    for protocol in PROTOCOLS:
        kib = asyncio.run(_per_connection(protocol, args.connections))
        print(
            f"{protocol.rpartition(':')[2]:>26}: {kib:.1f} KiB per idle connection (server RSS growth / N)"
        )
