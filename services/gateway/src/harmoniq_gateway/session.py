"""One client's session: what it may see, its sequence, and its bounded outgoing queue."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from harmoniq_common.access import ServerAccess
from harmoniq_common.permissions import Permission

from .protocol import Close, ServerFrame, Wire
from .sinks import PendingFrames, Sink

__all__ = ["CATCH_UP", "SEQ_SHIFT", "Session", "resume_point"]

# s = (stream sequence of the last durable event) << SEQ_SHIFT | (ephemeral dispatches since).
# Durable dispatches have the same s in every session (encoded once for all of them), s always
# increases within a session, and a resume continues after the stream sequence s >> SEQ_SHIFT.
SEQ_SHIFT = 20

# A session on hold accepts durable events only from consumer generations >= its hold (the
# hub's docstring says why); catch-up replays pass every hold.
CATCH_UP = 1 << 62


def resume_point(seq: int) -> int:
    return seq >> SEQ_SHIFT


# Slots: thousands of these live as long as their sockets.
@dataclass(eq=False, slots=True)
class Session:
    user_id: int
    wire: Wire
    queue_limit: int
    id: str = field(default_factory=lambda: secrets.token_hex(16))
    token_session_id: int | None = None
    # Tells this connection apart from a later one resuming the same session.
    connection_id: str = field(default_factory=lambda: secrets.token_hex(8))
    last_durable: int = 0
    hold_until: int = 0
    ephemeral: int = 0
    # server id -> its channels' permissions for this user; None until (re)loaded.
    servers: dict[int, dict[int, int] | None] = field(default_factory=dict)
    # What those permissions were computed from (to judge channels as events describe them).
    access: dict[int, ServerAccess] = field(default_factory=dict)
    # Channels the client has been told about (READY, channel.created/updated), per server:
    # a channel.deleted goes to those who knew the channel, whatever its state by now.
    known_channels: dict[int, set[int]] = field(default_factory=dict)
    # Frames wait in memory until the connection attaches its sink (READY is being built).
    sink: Sink = field(init=False)
    closing: tuple[Close, str] | None = None
    status: str = "online"
    _closed: asyncio.Future[None] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.sink = PendingFrames(self.queue_limit)

    # -- sequence ---------------------------------------------------------------------------

    def wants_durable(self, stream_seq: int, generation: int) -> bool:
        """False if this session already had the event (replays) or waits for it from a newer
        consumer generation or a catch-up."""
        if stream_seq <= self.last_durable:
            return False
        if generation == CATCH_UP:
            return self.hold_until == CATCH_UP  # held again meanwhile: a consumer replays it
        return generation >= self.hold_until

    def take_durable(self, stream_seq: int, generation: int) -> bool:
        """Account for a durable event, if :meth:`wants_durable` it."""
        if not self.wants_durable(stream_seq, generation):
            return False
        self.last_durable = stream_seq
        self.ephemeral = 0
        return True

    @property
    def seq(self) -> int:
        return self.last_durable << SEQ_SHIFT | self.ephemeral

    def next_ephemeral_seq(self) -> int:
        self.ephemeral = min(self.ephemeral + 1, (1 << SEQ_SHIFT) - 1)
        return self.seq

    # -- access -----------------------------------------------------------------------------

    def set_access(self, access: ServerAccess) -> None:
        self.servers[int(access.server_id)] = {
            int(c.channel_id): c.permissions for c in access.channels
        }
        self.access[int(access.server_id)] = access
        self.known_channels.setdefault(int(access.server_id), set()).update(
            int(c.channel_id) for c in access.channels
        )

    def can_view(self, server_id: int, channel_id: int) -> bool:
        channels = self.servers.get(server_id)
        return bool(channels and channels.get(channel_id, 0) & Permission.VIEW_CHANNEL)

    # -- sending ----------------------------------------------------------------------------

    def attach(self, sink: Sink) -> None:
        """The connection's own way out; what waited goes first."""
        waiting, self.sink = self.sink, sink
        if isinstance(waiting, PendingFrames):
            for payload in waiting.frames:
                self._put(payload)

    def _put(self, payload: bytes) -> None:
        if not self.sink.write(payload):
            self.close(Close.TOO_SLOW, "too far behind; resume")

    def send_bytes(self, payload: bytes) -> None:
        """Queue an encoded frame; a client this far behind is disconnected (it may resume)."""
        if self.closing is None:
            self._put(self.wire.outgoing(payload))

    def send(self, frame: ServerFrame) -> None:
        if self.closing is None:
            self._put(self.wire.frame(frame))

    def send_ahead(self, frame: ServerFrame) -> None:
        """Queue ``frame`` before every frame still waiting for the connection: READY, ahead
        of the events that reached the session while it was being built (they apply on top
        of its snapshot)."""
        if self.closing is None:
            payload = self.wire.frame(frame)
            if isinstance(self.sink, PendingFrames):
                self.sink.write_first(payload)
            else:
                self._put(payload)

    def close(self, code: Close, reason: str) -> None:
        """Nothing more is queued; the connection sends what is and closes (sinks.py)."""
        if self.closing is None:
            self.closing = (code, reason)
            if self._closed is not None and not self._closed.done():
                self._closed.set_result(None)
            self.sink.closing(int(code), reason)

    def closed(self) -> asyncio.Future[None]:
        """Done once the session closes (a future, not a task: nothing to run per connection)."""
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            if self.closing is not None:
                self._closed.set_result(None)
        return self._closed
