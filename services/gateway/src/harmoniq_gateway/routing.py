"""Which local sessions receive an event, and what an event changes about them.

Channel-scoped events (messages, reactions, pins, channels) reach only sessions whose user may
view that channel; moderation events (bans, invites) only those who moderate. Events that
change access (roles, overwrites, membership) first move the server's permission epoch, so
each session's permissions are asked of guilds again before its next channel-scoped event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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

ACCESS_CHANGES = (
    ev.ServerUpdated,
    ev.ChannelCreated,
    ev.ChannelUpdated,
    ev.ChannelDeleted,
    ev.RoleCreated,
    ev.RoleUpdated,
    ev.RoleDeleted,
    ev.MemberUpdated,
    ev.MemberLeft,
    ev.BanAdded,
)


def _member_of(event: EventPayload) -> int | None:
    """The one member whose standing the event changes (only their permissions are to be
    asked again), if it is that kind of change."""
    if isinstance(event, ev.MemberUpdated):
        return int(event.member.user.id)
    if isinstance(event, ev.MemberLeft | ev.BanAdded):
        return int(event.user_id)
    return None


def channel_of(event: EventPayload) -> int | None:
    if isinstance(event, ev.MessageCreated | ev.MessageUpdated):
        return int(event.message.channel_id)
    if isinstance(event, ev.ChannelCreated | ev.ChannelUpdated):
        return int(event.channel.id)
    channel = getattr(event, "channel_id", None)
    return None if channel is None else int(channel)


def required(event: EventPayload) -> Permission | None:
    """Server-wide permission a session needs to receive this event, beyond viewing."""
    if isinstance(event, ev.BanAdded | ev.BanRemoved):
        return Permission.BAN_MEMBERS
    if isinstance(event, ev.InviteCreated | ev.InviteDeleted):
        return Permission.MANAGE_CHANNELS
    return None


class Router:
    def __init__(self, platform: Platform, access: AccessCache) -> None:
        self._platform = platform
        self._access = access
        self.hub: Hub  # set once the hub exists (they refer to each other)
        self.message_sent: Callable[[int, int, int], None] | None = None
        self.membership_changed: Callable[[Session], Awaitable[None]] | None = None
        self.member_count_changed: Callable[[int, int, int | None], None] | None = None

    async def _membership_changed(self, session: Session) -> None:
        if self.membership_changed is None:
            return
        try:
            await self.membership_changed(session)
        except Exception:  # presence bookkeeping must not stop the delivery to others
            log.warning("gateway.membership_update_failed", exc_info=True)

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
        self.hub.unwatch_server(session, server_id)
        await self._membership_changed(session)
        return False

    async def _fresh_access(
        self, event: EventPayload, server_id: int, sessions: list[Session]
    ) -> dict[int, ServerAccess | None] | None:
        """The permissions to apply before delivering ``event``, asked for all its recipients
        at once (a role change in a server of thousands is a few questions, not thousands):
        everyone's after a server-wide change, only the member's own after a change to one
        member, and anyone's not yet loaded. ``None`` marks those no longer members.

        ``None`` if guilds cannot answer: those sessions are closed to resume (4000), and the
        event is replayed to them then, judged by permissions that could be read, not lost."""
        member = _member_of(event)
        server_wide = isinstance(event, ACCESS_CHANGES) and member is None
        stale = {
            s.user_id
            for s in sessions
            if server_wide or s.user_id == member or s.servers.get(server_id) is None
        }
        if isinstance(event, ev.ChannelDeleted) or not stale:
            return {}  # a deleted channel is judged by what each session was told
        try:
            found = await self._access.servers(server_id, stale)
        except ApiError:
            log.warning("gateway.access_unavailable", server_id=server_id, sessions=len(stale))
            for session in sessions:
                if session.user_id in stale:
                    session.close(Close.UNKNOWN_ERROR, "permissions unavailable, resume")
            return None
        return {user_id: found.get(user_id) for user_id in stale}

    async def handle(self, delivery: Delivery, only: Session | None) -> None:
        """Deliver to the sessions that may see it (``only`` one of them: a catch-up replay).
        A replay or a repeat changes nothing else: that happened when it was first handled."""
        envelope = decode_envelope(delivery.data)
        event = decode_payload(envelope)
        subjects = self._platform.subjects
        server_id = subjects.server_of(delivery.subject)
        encoded: dict[str, bytes] = {}

        def frame(session: Session) -> bytes:
            encoding = session.wire.encoding
            if encoding not in encoded:
                encoded[encoding] = encode_dispatch(
                    envelope.type, delivery.stream_seq << SEQ_SHIFT, envelope.data, encoding
                )
            return encoded[encoding]

        if server_id is None:
            await self._user_event(delivery, event, frame, only)
            return
        sessions = [
            s
            for s in _recipients(self.hub.by_server.get(server_id, ()), only)
            if s.wants_durable(delivery.stream_seq, delivery.generation)
        ]
        first = only is None and not delivery.repeat
        if first and isinstance(event, ACCESS_CHANGES):
            await bump_epoch(self._platform.redis, subjects, server_id)
        channel = channel_of(event)
        needs = required(event)
        fresh = await self._fresh_access(event, server_id, sessions)
        if fresh is None:  # those who needed it were closed, to resume
            fresh = {}
            sessions = [s for s in sessions if s.closing is None]
        for session in sessions:
            if not session.take_durable(delivery.stream_seq, delivery.generation):
                continue
            before = session.servers.get(server_id)
            if isinstance(event, ev.ChannelDeleted):
                known = session.known_channels.get(server_id, set())
                visible = int(event.channel_id) in known
                known.discard(int(event.channel_id))
            elif isinstance(event, ev.ChannelCreated | ev.ChannelUpdated):
                await self._channel_change(session, server_id, event, frame, fresh)
                continue
            else:
                stale = session.user_id in fresh
                if stale and not await self._settle(session, server_id, fresh[session.user_id]):
                    # Just lost the server (kicked, banned): tell them, then nothing more.
                    if isinstance(event, ev.MemberLeft | ev.BanAdded | ev.ServerDeleted):
                        session.send_bytes(frame(session))
                    continue
                visible = channel is None or session.can_view(server_id, channel)
                if visible and needs is not None:
                    channels = session.servers.get(server_id) or {}
                    visible = any(p & needs for p in channels.values())
            if visible:
                session.send_bytes(frame(session))
            if isinstance(event, ev.ChannelDeleted) and before is not None:
                before.pop(int(event.channel_id), None)
        if not first:
            pass
        elif isinstance(event, ev.MessageCreated) and self.message_sent is not None:
            message = event.message
            self.message_sent(server_id, int(message.channel_id), int(message.author.id))
        elif isinstance(event, ev.MemberJoined | ev.MemberLeft) and self.member_count_changed:
            delta = 1 if isinstance(event, ev.MemberJoined) else -1
            self.member_count_changed(server_id, delta, event.member_count)
        if isinstance(event, ev.ServerDeleted):
            for session in sessions:
                self.hub.unwatch_server(session, server_id)
                await self._membership_changed(session)

    async def _channel_change(
        self,
        session: Session,
        server_id: int,
        event: ev.ChannelCreated | ev.ChannelUpdated,
        frame: Callable[[Session], bytes],
        fresh: dict[int, ServerAccess | None],
    ) -> None:
        """Judged by the channel as the event describes it, not as it is by now (it may have
        changed again, or be gone): with the member's roles, under the event's overwrites.
        A channel that stops being visible to them arrives as ``channel.deleted``."""
        channel_id = int(event.channel.id)
        channels = session.servers.get(server_id)
        was_visible = channels is not None and session.can_view(server_id, channel_id)
        if not await self._settle(session, server_id, fresh.get(session.user_id)):
            return
        access = session.access[server_id]
        permissions = access.permissions_in(event.channel)
        channels = session.servers[server_id] or {}
        known = session.known_channels.setdefault(server_id, set())
        if permissions & Permission.VIEW_CHANNEL:
            channels[channel_id] = permissions
            known.add(channel_id)
            session.send_bytes(frame(session))
        elif was_visible or channel_id in known:
            channels.pop(channel_id, None)
            known.discard(channel_id)
            gone = ev.ChannelDeleted(server_id=event.channel.server_id, channel_id=event.channel.id)
            session.send_bytes(
                encode_dispatch(
                    gone.event_type,
                    session.seq,
                    msgspec.Raw(encode(gone)),
                    session.wire.encoding,
                )
            )

    async def _user_event(
        self,
        delivery: Delivery,
        event: EventPayload,
        frame: Callable[[Session], bytes],
        only: Session | None,
    ) -> None:
        user_id = int(delivery.subject.split(".")[3])
        for session in _recipients(self.hub.by_user.get(user_id, ()), only):
            if not session.take_durable(delivery.stream_seq, delivery.generation):
                continue
            if isinstance(event, ev.UserSessionsRevoked):
                if event.session_id is None or int(event.session_id) == session.token_session_id:
                    session.close(Close.TOKEN_REVOKED, "the session was revoked")
                continue
            if isinstance(event, ev.MemberJoined | ev.ServerCreated):
                # A server the user just joined or created: its events from now on.
                server_id = int(
                    event.member.server_id
                    if isinstance(event, ev.MemberJoined)
                    else event.server.id
                )
                session.servers[server_id] = None
                self.hub.watch_server(session, server_id)
                self.hub.attach(session, delivery.stream_seq)
                try:
                    member = await self.refresh(session, server_id)
                except ApiError:  # guilds cannot answer: replayed when they resume
                    session.close(Close.UNKNOWN_ERROR, "permissions unavailable, resume")
                    continue
                if not member:
                    # Left or deleted since (a replay, or a quick succession): its end will
                    # not reach this session, so neither does its start; READY agrees.
                    continue
                await self._membership_changed(session)
            session.send_bytes(frame(session))


def _recipients(sessions: set[Session] | tuple[()], only: Session | None) -> list[Session]:
    if only is None:
        return list(sessions)
    return [only] if only in sessions else []
