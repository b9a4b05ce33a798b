"""Which local sessions receive an event, and what an event changes about them.

Each kind of event has its handler (the tables in :class:`Router`); the rest go to the
sessions that may see them. Channel-scoped events (messages, reactions, pins, channels) reach
only sessions whose user may view that channel; moderation events (bans, invites) only those
who moderate. An event that changes access (as its payload declares:
``EventPayload.changes_access``) first moves the server's permission epoch, and the
permissions it made stale are asked of guilds again before the event is judged: everyone's in
the server after a server-wide change, only the member's own after a change to one member.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import structlog

from harmoniq_common import events as ev
from harmoniq_common.access import AccessCache, ServerAccess, bump_epoch
from harmoniq_common.codec import encode
from harmoniq_common.errors import ApiError
from harmoniq_common.events import EventPayload, decode_envelope, decode_payload
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform

from .hub import Delivery, Hub
from .protocol import Close, encode_dispatch
from .session import SEQ_SHIFT, Session

__all__ = ["Router"]

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=EventPayload)


def channel_of(event: EventPayload) -> int | None:
    if isinstance(event, ev.MessageCreated | ev.MessageUpdated):
        return int(event.message.channel_id)
    if isinstance(event, ev.ChannelCreated | ev.ChannelUpdated):
        return int(event.channel.id)
    if isinstance(event, ev.WebhookCreated | ev.WebhookUpdated):
        return int(event.webhook.channel_id)
    channel = getattr(event, "channel_id", None)
    return None if channel is None else int(channel)


def required(event: EventPayload) -> Permission | None:
    """Server-wide permission a session needs to receive this event, beyond viewing."""
    if isinstance(event, ev.BanAdded | ev.BanRemoved):
        return Permission.BAN_MEMBERS
    if isinstance(event, ev.InviteCreated | ev.InviteDeleted):
        return Permission.MANAGE_CHANNELS
    if isinstance(event, ev.WebhookCreated | ev.WebhookUpdated | ev.WebhookDeleted):
        return Permission.MANAGE_WEBHOOKS
    return None


class Frames:
    """An event's dispatch frame, encoded once per encoding and shared by every recipient."""

    def __init__(self, event_type: str, seq: int, data: msgspec.Raw) -> None:
        self._event_type = event_type
        self._seq = seq
        self._data = data
        self._encoded: dict[str, bytes] = {}

    def __call__(self, session: Session) -> bytes:
        encoding = session.wire.encoding
        if encoding not in self._encoded:
            self._encoded[encoding] = encode_dispatch(
                self._event_type, self._seq, self._data, encoding
            )
        return self._encoded[encoding]


@dataclass(frozen=True, slots=True)
class ServerDispatch(Generic[E]):
    """An event of a server on its way to this instance's sessions of that server."""

    event: E
    server_id: int
    frame: Frames
    # Permissions asked again for this event, by user; None: no longer a member.
    fresh: dict[int, ServerAccess | None]
    first: bool  # neither a catch-up replay nor a repeat: its side effects happen now
    # Judged once per event, not once per recipient: the channel it is about, and the
    # server-wide permission it needs beyond viewing.
    channel: int | None = None
    needs: Permission | None = None


@dataclass(frozen=True, slots=True)
class UserDispatch(Generic[E]):
    """An event of a user on its way to this instance's sessions of that user."""

    event: E
    frame: Frames
    stream_seq: int


DeliverToSession = Callable[[ServerDispatch[Any], Session], Awaitable[None]]
AfterDelivery = Callable[[ServerDispatch[Any], list[Session]], Awaitable[None]]
DeliverToUser = Callable[[UserDispatch[Any], Session], Awaitable[None]]


class Router:
    def __init__(
        self,
        platform: Platform,
        access: AccessCache,
        hub: Hub,
        *,
        message_sent: Callable[[int, int, int], None],
        membership_changed: Callable[[Session], Awaitable[None]],
        member_count_changed: Callable[[int, int, int | None], None],
    ) -> None:
        self._platform = platform
        self._access = access
        self._hub = hub
        self._message_sent = message_sent
        self._membership_changed = membership_changed
        self._member_count_changed = member_count_changed
        # How a server event reaches one session; the others: :meth:`_to_those_who_may_see`.
        self._server_events: dict[type[EventPayload], DeliverToSession] = {
            ev.ChannelCreated: self._channel_changed,
            ev.ChannelUpdated: self._channel_changed,
            ev.ChannelDeleted: self._channel_deleted,
            ev.VoiceStateUpdated: self._voice_state,
        }
        # What follows a server event once every session had it.
        self._after: dict[type[EventPayload], AfterDelivery] = {
            ev.MessageCreated: self._end_typing,
            ev.MemberJoined: self._count_members,
            ev.MemberLeft: self._count_members,
            ev.ServerDeleted: self._leave_server,
        }
        # Judged by what each session holds, without asking guilds: a deleted channel by
        # whether the session was told of it, a deleted server has no members left to ask for.
        self._judged_as_held: set[type[EventPayload]] = {ev.ChannelDeleted, ev.ServerDeleted}
        # How a user event reaches one of their sessions; the others are simply sent.
        self._user_events: dict[type[EventPayload], DeliverToUser] = {
            ev.UserSessionsRevoked: self._revoke,
            ev.MemberJoined: self._join,
            ev.ServerCreated: self._join,
        }

    async def handle(self, delivery: Delivery, only: Session | None) -> None:
        """Deliver to the sessions that may see it (``only`` one of them: a catch-up replay).
        A replay or a repeat changes nothing else: that happened when it was first handled."""
        envelope = decode_envelope(delivery.data)
        event = decode_payload(envelope)
        frame = Frames(envelope.type, delivery.stream_seq << SEQ_SHIFT, envelope.data)
        server_id = self._platform.subjects.server_of(delivery.subject)
        if server_id is None:
            await self._user_event(delivery, event, frame, only)
        else:
            await self._server_event(delivery, event, server_id, frame, only)

    # -- permissions -------------------------------------------------------------------------

    async def refresh(self, session: Session, server_id: int) -> bool:
        """Load the session's permissions in a server; False if it is no longer a member."""
        try:
            access = await self._access.server(session.user_id, server_id)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            access = None
        return await self._settle(session, server_id, access)

    async def _settle(self, session: Session, server_id: int, access: ServerAccess | None) -> bool:
        """Apply freshly read permissions; ``None``: no longer a member (False)."""
        if access is not None:
            session.set_access(access)
            return True
        self._hub.unwatch_server(session, server_id)
        await self._membership_updated(session)
        return False

    async def _membership_updated(self, session: Session) -> None:
        try:
            await self._membership_changed(session)
        except Exception:  # presence bookkeeping must not stop the delivery to others
            log.warning("gateway.membership_update_failed", exc_info=True)

    async def _fresh_access(
        self, event: EventPayload, server_id: int, sessions: list[Session]
    ) -> dict[int, ServerAccess | None] | None:
        """The permissions to apply before delivering ``event``, asked for all its recipients
        at once (a role change in a server of thousands is a few questions, not thousands):
        those the event made stale, and anyone's not yet loaded. ``None`` marks those no
        longer members.

        ``None`` if guilds cannot answer: those sessions are closed to resume (4000), and the
        event is replayed to them then, judged by permissions that could be read, not lost."""
        if type(event) in self._judged_as_held:
            return {}
        server_wide = event.changes_access == "server"
        member = event.access_changed_for() if event.changes_access == "member" else None
        stale = {
            s.user_id
            for s in sessions
            if server_wide or s.user_id == member or s.servers.get(server_id) is None
        }
        if not stale:
            return {}
        try:
            found = await self._access.servers(server_id, stale)
        except ApiError:
            log.warning("gateway.access_unavailable", server_id=server_id, sessions=len(stale))
            for session in sessions:
                if session.user_id in stale:
                    session.close(Close.UNKNOWN_ERROR, "permissions unavailable, resume")
            return None
        return {user_id: found.get(user_id) for user_id in stale}

    # -- server events -----------------------------------------------------------------------

    async def _server_event(
        self,
        delivery: Delivery,
        event: EventPayload,
        server_id: int,
        frame: Frames,
        only: Session | None,
    ) -> None:
        sessions = [
            s
            for s in _recipients(self._hub.by_server.get(server_id, ()), only)
            if s.wants_durable(delivery.stream_seq, delivery.generation)
        ]
        first = only is None and not delivery.repeat
        if first and event.changes_access is not None:
            await bump_epoch(self._platform.redis, self._platform.subjects, server_id)
        fresh = await self._fresh_access(event, server_id, sessions)
        if fresh is None:  # those who needed it were closed, to resume
            fresh = {}
            sessions = [s for s in sessions if s.closing is None]
        dispatch = ServerDispatch(
            event, server_id, frame, fresh, first, channel_of(event), required(event)
        )
        deliver = self._server_events.get(type(event), self._to_those_who_may_see)
        for session in sessions:
            if session.take_durable(delivery.stream_seq, delivery.generation):
                await deliver(dispatch, session)
        after = self._after.get(type(event))
        if after is not None:
            await after(dispatch, sessions)

    async def _to_those_who_may_see(
        self, dispatch: ServerDispatch[EventPayload], session: Session
    ) -> None:
        """Judged by the session's permissions after the event."""
        event, server_id = dispatch.event, dispatch.server_id
        if session.user_id in dispatch.fresh and not await self._settle(
            session, server_id, dispatch.fresh[session.user_id]
        ):
            # Just lost the server (kicked, banned): tell them, then nothing more.
            if isinstance(event, ev.MemberLeft | ev.BanAdded):
                session.send_bytes(dispatch.frame(session))
            return
        channel, needs = dispatch.channel, dispatch.needs
        visible = channel is None or session.can_view(server_id, channel)
        if visible and needs is not None:
            channels = session.servers.get(server_id) or {}
            visible = any(p & needs for p in channels.values())
        if visible:
            session.send_bytes(dispatch.frame(session))

    async def _voice_state(
        self, dispatch: ServerDispatch[ev.VoiceStateUpdated], session: Session
    ) -> None:
        """To those who can view the channel joined or the one left (a move between two
        channels reaches the viewers of either)."""
        event, server_id = dispatch.event, dispatch.server_id
        if session.user_id in dispatch.fresh and not await self._settle(
            session, server_id, dispatch.fresh[session.user_id]
        ):
            return
        channels = (event.channel_id, event.previous_channel_id)
        if any(c is not None and session.can_view(server_id, int(c)) for c in channels):
            session.send_bytes(dispatch.frame(session))

    async def _channel_deleted(
        self, dispatch: ServerDispatch[ev.ChannelDeleted], session: Session
    ) -> None:
        """To those who were told of the channel, whatever they may see by now."""
        channel_id, server_id = int(dispatch.event.channel_id), dispatch.server_id
        known = session.known_channels.get(server_id, set())
        if channel_id in known:
            known.discard(channel_id)
            session.send_bytes(dispatch.frame(session))
        channels = session.servers.get(server_id)
        if channels is not None:
            channels.pop(channel_id, None)

    async def _channel_changed(
        self, dispatch: ServerDispatch[ev.ChannelCreated | ev.ChannelUpdated], session: Session
    ) -> None:
        """Judged by the channel as the event describes it, not as it is by now (it may have
        changed again, or be gone): with the member's roles, under the event's overwrites.
        A channel that stops being visible to them arrives as ``channel.deleted``."""
        channel, server_id = dispatch.event.channel, dispatch.server_id
        channel_id = int(channel.id)
        was_visible = session.can_view(server_id, channel_id)
        if not await self._settle(session, server_id, dispatch.fresh.get(session.user_id)):
            return
        permissions = session.access[server_id].permissions_in(channel)
        channels = session.servers[server_id] or {}
        known = session.known_channels.setdefault(server_id, set())
        if permissions & Permission.VIEW_CHANNEL:
            channels[channel_id] = permissions
            known.add(channel_id)
            session.send_bytes(dispatch.frame(session))
        elif was_visible or channel_id in known:
            channels.pop(channel_id, None)
            known.discard(channel_id)
            gone = ev.ChannelDeleted(server_id=channel.server_id, channel_id=channel.id)
            session.send_bytes(
                encode_dispatch(
                    gone.event_type,
                    session.seq,
                    msgspec.Raw(encode(gone)),
                    session.wire.encoding,
                )
            )

    async def _end_typing(
        self, dispatch: ServerDispatch[ev.MessageCreated], _sessions: list[Session]
    ) -> None:
        if dispatch.first:
            message = dispatch.event.message
            self._message_sent(dispatch.server_id, int(message.channel_id), int(message.author.id))

    async def _count_members(
        self, dispatch: ServerDispatch[ev.MemberJoined | ev.MemberLeft], _sessions: list[Session]
    ) -> None:
        if dispatch.first:
            delta = 1 if isinstance(dispatch.event, ev.MemberJoined) else -1
            self._member_count_changed(dispatch.server_id, delta, dispatch.event.member_count)

    async def _leave_server(
        self, dispatch: ServerDispatch[ev.ServerDeleted], sessions: list[Session]
    ) -> None:
        """Told it is gone (or had been already): nobody follows the server any more."""
        for session in sessions:
            self._hub.unwatch_server(session, dispatch.server_id)
            await self._membership_updated(session)

    # -- user events -------------------------------------------------------------------------

    async def _user_event(
        self, delivery: Delivery, event: EventPayload, frame: Frames, only: Session | None
    ) -> None:
        user_id = self._platform.subjects.user_of(delivery.subject)
        if user_id is None:  # the consumer follows only user and server subjects
            return
        dispatch = UserDispatch(event, frame, delivery.stream_seq)
        deliver = self._user_events.get(type(event), self._send)
        for session in _recipients(self._hub.by_user.get(user_id, ()), only):
            if session.take_durable(delivery.stream_seq, delivery.generation):
                await deliver(dispatch, session)
        if isinstance(event, ev.MessageCreated) and only is None and not delivery.repeat:
            # A DM's message (one copy per participant's subject: the first ends the typing).
            message = event.message
            self._message_sent(
                int(message.server_id), int(message.channel_id), int(message.author.id)
            )

    async def _send(self, dispatch: UserDispatch[EventPayload], session: Session) -> None:
        session.send_bytes(dispatch.frame(session))

    async def _revoke(
        self, dispatch: UserDispatch[ev.UserSessionsRevoked], session: Session
    ) -> None:
        revoked = dispatch.event.session_id
        if revoked is None or int(revoked) == session.token_session_id:
            session.close(Close.TOKEN_REVOKED, "the session was revoked")

    async def _join(
        self, dispatch: UserDispatch[ev.MemberJoined | ev.ServerCreated], session: Session
    ) -> None:
        """A server the user just joined or created: its events from now on."""
        event = dispatch.event
        server_id = int(
            event.member.server_id if isinstance(event, ev.MemberJoined) else event.server.id
        )
        session.servers[server_id] = None
        self._hub.watch_server(session, server_id)
        self._hub.attach(session, dispatch.stream_seq)
        try:
            member = await self.refresh(session, server_id)
        except ApiError:  # guilds cannot answer: replayed when they resume
            session.close(Close.UNKNOWN_ERROR, "permissions unavailable, resume")
            return
        if not member:
            # Left or deleted since (a replay, or a quick succession): its end will not
            # reach this session, so neither does its start; READY agrees.
            return
        await self._membership_updated(session)
        session.send_bytes(dispatch.frame(session))


def _recipients(sessions: set[Session] | tuple[()], only: Session | None) -> list[Session]:
    if only is None:
        return list(sessions)
    return [only] if only in sessions else []
