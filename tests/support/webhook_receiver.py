"""A receiver of outgoing webhooks on loopback for the fleet tests: records every request
(arrival time, headers, body) in a queue the test awaits, answers a fixed status."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Received", "Receiver"]


@dataclass(frozen=True)
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    def __init__(self, status: int = 200) -> None:
        self.requests: queue.Queue[Received] = queue.Queue()
        received, answer = self.requests, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                received.put(
                    Received(time.monotonic(), self.path, dict(self.headers.items()), body)
                )
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    async def next(self, timeout: float = 15.0) -> Received:
        return await asyncio.to_thread(self.requests.get, True, timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
