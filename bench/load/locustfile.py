"""People chatting, for Locust: REST through the front door and the gateway over WebSocket.

Each simulated person registers, joins their community (a server of ``LOAD_ROOM_SIZE`` people,
created by its first member) by invite, connects to the gateway and identifies; then, at a
person's pace, reads history, sends messages, reacts and looks at their profile, while a
greenlet of theirs receives the gateway's frames and reports how long each ``message.create``
took from its sender's POST to this socket ("WS message.create delivery"; the send time rides in
the content, so sender and receiver share this machine's clock).

It runs against any deployment: ``make load HOST=https://chat.example.com`` (docs/operations.md
"Load test"). The deployment must let this many registrations and sends come from one address:
raise ``HARMONIQ_AUTH_RATE_LIMIT``, ``HARMONIQ_SEND_RATE_LIMIT`` and nginx's per-address limit
for the run, as ``bench/load_run.py`` does for the fleet it starts itself.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from typing import Any
from urllib.parse import quote

import gevent
import websocket
from gevent.lock import Semaphore
from locust import FastHttpUser, between, events, task

ROOM_SIZE = int(os.environ.get("LOAD_ROOM_SIZE", "50"))
PASSWORD = "load-test correct horse"
# Gateway ops (services/gateway protocol.py; the scenario may run where Harmoniq is not installed).
DISPATCH, HEARTBEAT, IDENTIFY, HELLO = 0, 1, 2, 10


class Rooms:
    """The communities people join: the first person of each creates it and its invite."""

    def __init__(self) -> None:
        self._lock = Semaphore()
        self._count = 0
        self._rooms: dict[int, dict[str, str]] = {}

    def next_seat(self) -> int:
        with self._lock:
            self._count += 1
            return self._count - 1

    def room(self, index: int, create: Any) -> dict[str, str]:
        with self._lock:  # a greenlet lock: the creator's requests yield to the others
            if index not in self._rooms:
                self._rooms[index] = create()
            return self._rooms[index]


ROOMS = Rooms()
RUN = secrets.token_hex(3)  # account names unique per run, so runs can repeat on one fleet


class ChatUser(FastHttpUser):
    wait_time = between(3, 10)

    def on_start(self) -> None:
        seat = ROOMS.next_seat()
        self.name_ = f"ld{RUN}u{seat}"
        self.auth = self._register()
        room = ROOMS.room(seat // ROOM_SIZE, self._create_room)
        self.channel_id = room["channel_id"]
        if room["owner"] != self.name_:
            self._post(f"/api/v1/invites/{room['code']}", None, "/api/v1/invites/[code]")
        self.recent: list[str] = []
        self.socket: websocket.WebSocket | None = None
        self.stopping = False
        self.receiver = gevent.spawn(self._gateway)

    def on_stop(self) -> None:
        self.stopping = True  # the close below is ours, not the gateway's failure
        self.receiver.kill()
        if self.socket is not None:
            self.socket.close()

    # -- what a person does --------------------------------------------------------------
    @task(5)
    def read_history(self) -> None:
        with self.client.get(
            f"/api/v1/channels/{self.channel_id}/messages?limit=50",
            headers=self.auth,
            name="/api/v1/channels/[id]/messages?limit=50",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                self.recent = [m["id"] for m in response.json()[:10]]
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text}")

    @task(2)
    def send(self) -> None:
        content = json.dumps({"load": RUN, "sent": time.time()})
        self._post(
            f"/api/v1/channels/{self.channel_id}/messages",
            {"content": content, "nonce": secrets.token_hex(8)},
            "/api/v1/channels/[id]/messages",
        )

    @task(1)
    def react(self) -> None:
        if not self.recent:
            return
        message_id = self.recent[int(time.time()) % len(self.recent)]
        self.client.put(
            f"/api/v1/channels/{self.channel_id}/messages/{message_id}/reactions/{quote('👍')}/@me",
            headers=self.auth,
            name="/api/v1/channels/[id]/messages/[id]/reactions/[emoji]/@me",
        )

    @task(1)
    def profile(self) -> None:
        self.client.get("/api/v1/auth/me", headers=self.auth)

    # -- set-up -----------------------------------------------------------------------------
    def _register(self) -> dict[str, str]:
        body = self._post(
            "/api/v1/auth/register",
            {"username": self.name_, "email": f"{self.name_}@example.com", "password": PASSWORD},
            "/api/v1/auth/register",
            auth=False,
        )
        self.token = str(body["access_token"])
        return {"Authorization": f"Bearer {self.token}"}

    def _create_room(self) -> dict[str, str]:
        server = self._post("/api/v1/servers", {"name": f"Load {RUN}"}, "/api/v1/servers")
        channels = self.client.get(
            f"/api/v1/servers/{server['id']}/channels",
            headers=self.auth,
            name="/api/v1/servers/[id]/channels",
        ).json()
        channel_id = next(c["id"] for c in channels if c["kind"] == "text")
        invite = self._post(
            f"/api/v1/channels/{channel_id}/invites", {}, "/api/v1/channels/[id]/invites"
        )
        return {"channel_id": channel_id, "code": invite["code"], "owner": self.name_}

    def _post(self, path: str, body: Any, name: str, auth: bool = True) -> Any:
        headers = self.auth if auth else {}
        with self.client.post(
            path, json=body, headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code not in (200, 201, 204):
                response.failure(f"{response.status_code}: {response.text}")
                raise RuntimeError(f"{name}: {response.status_code}")  # this user stops here
            response.success()
            return response.json() if response.text else None

    # -- the gateway ------------------------------------------------------------------------
    def _gateway(self) -> None:
        url = self.host.replace("http://", "ws://").replace("https://", "wss://") + "/gateway"
        started = time.perf_counter()
        try:
            self.socket = websocket.create_connection(url + "?encoding=json", timeout=60)
            hello = json.loads(self.socket.recv())
            assert hello["op"] == HELLO, hello
            self.socket.send(
                json.dumps(
                    {"op": IDENTIFY, "d": {"token": self.token, "properties": {"os": "locust"}}}
                )
            )
            beats = gevent.spawn(self._heartbeats, hello["d"]["heartbeat_interval"] / 2000)
            try:
                self._receive(started)
            finally:  # on_stop kills the receiver with GreenletExit, which no except takes
                beats.kill(block=False)
        except Exception as error:  # every failure is a failed gateway sample
            if self.stopping:
                return
            _fire("WS", "gateway", (time.perf_counter() - started) * 1000, 0, error)

    def _heartbeats(self, interval: float) -> None:
        while self.socket is not None and self.socket.connected:
            gevent.sleep(interval)  # the protocol's own heartbeat cadence
            self.socket.send(json.dumps({"op": HEARTBEAT, "d": None}))

    def _receive(self, started: float) -> None:
        assert self.socket is not None
        while True:
            opcode, frame = self.socket.recv_data_frame(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else 1005
                reason = frame.data[2:].decode(errors="replace")
                raise ConnectionError(f"the gateway closed the connection: {code} {reason}")
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            raw = frame.data.decode()
            dispatch = json.loads(raw)
            if dispatch["op"] != DISPATCH:
                continue
            if dispatch["t"] == "ready":
                _fire("WS", "connect to READY", (time.perf_counter() - started) * 1000, len(raw))
            elif dispatch["t"] == "message.create":
                try:
                    sent = json.loads(dispatch["d"]["message"]["content"])["sent"]
                except (ValueError, KeyError, TypeError):
                    continue  # not one of this run's messages
                _fire("WS", "message.create delivery", (time.time() - sent) * 1000, len(raw))


def _fire(
    kind: str, name: str, milliseconds: float, length: int, error: Exception | None = None
) -> None:
    events.request.fire(
        request_type=kind, name=name, response_time=milliseconds, response_length=length,
        exception=error, context={},
    )  # fmt: skip
