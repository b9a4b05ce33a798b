"""Typing indicators: live only (core NATS), shown to the channel's viewers, stopped by a
message from the typist or after a quiet period.

Every instance that follows the server sees the same ``typing.start`` and keeps its own
timers, so a ``typing.stop`` needs no further message between instances.
"""

from __future__ import annotations

import asyncio
import time

import msgspec

from harmoniq_common.codec import decode, encode
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform

from .hub import Hub
from .protocol import encode_dispatch
from .session import Session

__all__ = ["TypingEvent", "Typists"]


class TypingEvent(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    channel_id: Snowflake
    user_id: Snowflake
    timestamp: int  # Unix seconds


class Typists:
    def __init__(self, platform: Platform, hub: Hub, timeout: float, throttle: float) -> None:
        self._platform = platform
        self._hub = hub
        self._timeout = timeout
        self._throttle = throttle
        self._timers: dict[tuple[int, int], asyncio.TimerHandle] = {}
        self._published: dict[tuple[int, int], float] = {}

    def _renewed_lately(self, key: tuple[int, int]) -> bool:
        """A user's typing in a channel goes out at most once per throttle window (shorter
        than the timeout, so a client renewing it keeps it shown everywhere)."""
        now = time.monotonic()
        if now - self._published.get(key, -self._throttle) < self._throttle:
            return True
        self._published[key] = now
        if len(self._published) > 10_000:  # forget old entries now and then
            self._published = {k: t for k, t in self._published.items() if now - t < 60}
        return False

    async def start(self, session: Session, channel_id: int) -> None:
        """A client says its user is typing; ignored where they could not post, and when
        they already said so within the throttle window."""
        for server_id, channels in session.servers.items():
            if channels is not None and channel_id in channels:
                needed = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
                if channels[channel_id] & needed == needed:
                    if self._renewed_lately((channel_id, session.user_id)):
                        return
                    event = TypingEvent(
                        server_id=Snowflake(server_id),
                        channel_id=Snowflake(channel_id),
                        user_id=Snowflake(session.user_id),
                        timestamp=int(time.time()),
                    )
                    await self._platform.nats.publish(
                        self._platform.subjects.ephemeral("server", server_id, "typing"),
                        encode(event),
                    )
                return

    async def on_ephemeral(self, subject: str, data: bytes) -> None:
        if subject.endswith(".typing"):
            event = decode(data, TypingEvent)
            self._deliver("typing.start", event)
            key = (int(event.channel_id), int(event.user_id))
            previous = self._timers.pop(key, None)
            if previous is not None:
                previous.cancel()
            self._timers[key] = asyncio.get_running_loop().call_later(
                self._timeout, self._expire, key, event
            )

    def _expire(self, key: tuple[int, int], event: TypingEvent) -> None:
        self._timers.pop(key, None)
        self._deliver("typing.stop", event)

    def message_sent(self, server_id: int, channel_id: int, author_id: int) -> None:
        """A message ends its author's typing at once."""
        handle = self._timers.pop((channel_id, author_id), None)
        if handle is not None:
            handle.cancel()
            self._deliver(
                "typing.stop",
                TypingEvent(
                    server_id=Snowflake(server_id),
                    channel_id=Snowflake(channel_id),
                    user_id=Snowflake(author_id),
                    timestamp=int(time.time()),
                ),
            )

    def _deliver(self, event_type: str, event: TypingEvent) -> None:
        data = msgspec.to_builtins(event, enc_hook=str)
        for session in list(self._hub.by_server.get(int(event.server_id), ())):
            if session.user_id == int(event.user_id):
                continue
            if session.can_view(int(event.server_id), int(event.channel_id)):
                session.send_bytes(
                    encode_dispatch(
                        event_type, session.next_ephemeral_seq(), data, session.wire.encoding
                    )
                )
