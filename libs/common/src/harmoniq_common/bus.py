"""NATS: connection, subject names, streams, headers, and request/reply.

Subjects (``ns`` is the settings namespace)::

    {ns}.ev.user.{user_id}.{event_type}        durable, JetStream stream {NS}_EVENTS
    {ns}.ev.server.{server_id}.{event_type}    durable, same stream (later services)
    {ns}.eph.…                                 ephemeral, core NATS only (typing, presence)
    {ns}.rpc.{service}.{method}                request/reply

``event_type`` has a dot itself (``user.deleted``), so a consumer of one type across all users
filters ``{ns}.ev.user.*.user.deleted`` and the gateway takes ``{ns}.ev.user.{id}.>``.
Durable events are published with a ``Nats-Msg-Id`` so JetStream drops a re-publication of the
same event within the stream's duplicate window.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from .logging import CORRELATION_HEADER, correlation_id
from .telemetry import inject_trace_context

__all__ = [
    "DUPLICATE_WINDOW_SECONDS",
    "Subjects",
    "connect_nats",
    "ensure_streams",
    "outgoing_headers",
]

log = structlog.get_logger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0
EVENTS_MAX_AGE_SECONDS = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Subjects:
    namespace: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_-]{1,64}", self.namespace):
            raise ValueError("namespace: lower-case letters, digits, '_' and '-' only")

    @property
    def events_stream(self) -> str:
        return re.sub(r"[^A-Z0-9_]", "_", self.namespace.upper()) + "_EVENTS"

    @property
    def all_events(self) -> str:
        return f"{self.namespace}.ev.>"

    def user_event(self, user_id: int, event_type: str) -> str:
        return f"{self.namespace}.ev.user.{user_id}.{event_type}"

    def user_events(self, user_id: int) -> str:
        """Every durable event of one user (a filter)."""
        return f"{self.namespace}.ev.user.{user_id}.>"

    def user_events_of_type(self, event_type: str) -> str:
        return f"{self.namespace}.ev.user.*.{event_type}"

    def server_event(self, server_id: int, event_type: str) -> str:
        return f"{self.namespace}.ev.server.{server_id}.{event_type}"

    def server_events(self, server_id: int) -> str:
        """Every durable event of one server (a filter)."""
        return f"{self.namespace}.ev.server.{server_id}.>"

    def server_events_of_type(self, event_type: str) -> str:
        return f"{self.namespace}.ev.server.*.{event_type}"

    def server_of(self, subject: str) -> int | None:
        """The server id of a server event subject, ``None`` for any other subject."""
        return self._id_after(f"{self.namespace}.ev.server.", subject)

    def user_of(self, subject: str) -> int | None:
        """The user id of a user event subject, ``None`` for any other subject."""
        return self._id_after(f"{self.namespace}.ev.user.", subject)

    @staticmethod
    def _id_after(prefix: str, subject: str) -> int | None:
        if not subject.startswith(prefix):
            return None
        token = subject[len(prefix) :].split(".", 1)[0]
        return int(token) if token.isdigit() else None

    def ephemeral(self, *tokens: str | int) -> str:
        return ".".join([self.namespace, "eph", *map(str, tokens)])

    def rpc(self, service: str, method: str) -> str:
        return f"{self.namespace}.rpc.{service}.{method}"


async def connect_nats(
    url: str, *, name: str, on_reconnect: Sequence[Callable[[], Awaitable[None]]] = ()
) -> NatsClient:
    """Connect, and keep reconnecting for ever: the default gives up after ~2 minutes.

    ``on_reconnect`` is read at every reconnection (a list may grow after connecting): core
    subscriptions come back by themselves, but what lived on a restarted server (an
    ephemeral JetStream consumer) must be made again by whoever needs it.
    """

    async def on_error(exc: Exception) -> None:
        log.warning("nats.error", error=str(exc))

    async def on_disconnect() -> None:
        log.warning("nats.disconnected")

    async def on_reconnected() -> None:
        log.info("nats.reconnected")
        for callback in list(on_reconnect):
            try:
                await callback()
            except Exception:
                log.exception("nats.reconnect_callback_failed")

    return await nats.connect(
        url,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnected,
    )


async def ensure_streams(js: JetStreamContext, subjects: Subjects) -> None:
    """Create or update the durable events stream; every service may call it at start-up."""
    config = StreamConfig(
        name=subjects.events_stream,
        subjects=[subjects.all_events],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=EVENTS_MAX_AGE_SECONDS,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)


def outgoing_headers(msg_id: str | None = None, **extra: str) -> dict[str, str]:
    """Headers for a NATS message: dedup id, correlation id and trace context."""
    headers: dict[str, str] = dict(extra)
    if msg_id is not None:
        headers["Nats-Msg-Id"] = msg_id
    cid = correlation_id()
    if cid:
        headers[CORRELATION_HEADER] = cid
    inject_trace_context(headers)
    return headers
