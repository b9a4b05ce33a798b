"""Typing indicators: live only (core NATS), shown to the channel's viewers, stopped by a
message from the typist or after a quiet period.

Every instance that follows the server sees the same ``typing.start`` and keeps its own
timers, so a ``typing.stop`` needs no further message between instances.

In a DM or group DM (which no session follows as a server), typing is published once on one
subject every instance follows (:meth:`Typists.watch_direct`), naming the participants as
guilds' channel-access answer lists them; each instance shows it to its own sessions of those
participants and nobody else. One subscription per instance, not one per user: typing is
throttled to one message per typist and channel per window, so every instance reading every
DM's typing costs less than subscribing and unsubscribing at each connection.
"""

from __future__ import annotations

import asyncio
import time

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from harmoniq_common.access import AccessCache
from harmoniq_common.codec import decode, encode
from harmoniq_common.errors import ApiError
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform

from .hub import Hub
from .protocol import encode_dispatch
from .session import Session

__all__ = ["DirectTypingEvent", "TypingEvent", "Typists"]

log = structlog.get_logger(__name__)


class TypingEvent(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    channel_id: Snowflake
    user_id: Snowflake
    timestamp: int  # Unix seconds


class DirectTypingEvent(TypingEvent, frozen=True, kw_only=True):
    """Typing in a DM (``server_id`` is the DM's id): only to these participants' sessions."""

    recipient_ids: list[Snowflake]


class Typists:
    def __init__(
        self, platform: Platform, hub: Hub, access: AccessCache, timeout: float, throttle: float
    ) -> None:
        self._platform = platform
        self._hub = hub
        self._access = access
        self._timeout = timeout
        self._throttle = throttle
        # (channel, typist) -> the expiry timer and the event it ends.
        self._timers: dict[tuple[int, int], tuple[asyncio.TimerHandle, TypingEvent]] = {}
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
        await self._start_direct(session, channel_id)

    def _direct_subject(self) -> str:
        return self._platform.subjects.ephemeral("dm", "typing")

    async def _start_direct(self, session: Session, channel_id: int) -> None:
        """Not a channel of the session's servers: perhaps a DM of theirs (one cached access
        lookup, asked only once per throttle window however often the client renews)."""
        if self._renewed_lately((channel_id, session.user_id)):
            return
        try:
            access = await self._access.channel(session.user_id, channel_id)
        except ApiError as exc:  # not theirs (404), or guilds cannot answer: no typing
            if exc.status_code != 404:
                log.warning("gateway.typing_access_unavailable", channel_id=channel_id)
            return
        needed = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
        if not access.is_direct or access.permissions & needed != needed:
            return  # e.g. a 1:1 DM across a block: nobody sends there
        event = DirectTypingEvent(
            server_id=access.server_id,
            channel_id=Snowflake(channel_id),
            user_id=Snowflake(session.user_id),
            timestamp=int(time.time()),
            recipient_ids=access.recipient_ids,
        )
        await self._platform.nats.publish(self._direct_subject(), encode(event))

    async def watch_direct(self) -> Subscription:
        async def typed(message: Msg) -> None:
            try:
                self._started(decode(message.data, DirectTypingEvent))
            except Exception:
                log.exception("gateway.direct_typing_failed")

        return await self._platform.nats.subscribe(self._direct_subject(), cb=typed)

    async def on_ephemeral(self, subject: str, data: bytes) -> None:
        if subject.endswith(".typing"):
            self._started(decode(data, TypingEvent))

    def _started(self, event: TypingEvent) -> None:
        self._deliver("typing.start", event)
        key = (int(event.channel_id), int(event.user_id))
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous[0].cancel()
        handle = asyncio.get_running_loop().call_later(self._timeout, self._expire, key, event)
        self._timers[key] = (handle, event)

    def _expire(self, key: tuple[int, int], event: TypingEvent) -> None:
        self._timers.pop(key, None)
        self._deliver("typing.stop", event)

    def message_sent(self, server_id: int, channel_id: int, author_id: int) -> None:
        """A message ends its author's typing at once, and its throttle window: typing again
        right after sending is news."""
        self._published.pop((channel_id, author_id), None)
        timer = self._timers.pop((channel_id, author_id), None)
        if timer is not None:
            handle, started = timer
            handle.cancel()
            self._deliver(
                "typing.stop", msgspec.structs.replace(started, timestamp=int(time.time()))
            )

    def _deliver(self, event_type: str, event: TypingEvent) -> None:
        data = msgspec.to_builtins(
            TypingEvent(
                server_id=event.server_id,
                channel_id=event.channel_id,
                user_id=event.user_id,
                timestamp=event.timestamp,
            ),
            enc_hook=str,
        )
        if isinstance(event, DirectTypingEvent):
            sessions = [
                s
                for user_id in event.recipient_ids
                for s in self._hub.by_user.get(int(user_id), ())
            ]
            for session in sessions:
                if session.user_id != int(event.user_id):
                    session.send_bytes(
                        encode_dispatch(
                            event_type, session.next_ephemeral_seq(), data, session.wire.encoding
                        )
                    )
            return
        for session in list(self._hub.by_server.get(int(event.server_id), ())):
            if session.user_id == int(event.user_id):
                continue
            if session.can_view(int(event.server_id), int(event.channel_id)):
                session.send_bytes(
                    encode_dispatch(
                        event_type, session.next_ephemeral_seq(), data, session.wire.encoding
                    )
                )
