"""Sessions: IDENTIFY (READY), RESUME (on any instance), their records in Redis."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from harmoniq_common.access import (
    USER_SERVERS,
    USER_SERVERS_PAGE_BYTES,
    AccessCache,
    ServerSnapshot,
    UserServers,
    UserServersRequest,
)
from harmoniq_common.auth import Principal
from harmoniq_common.consumers import request
from harmoniq_common.directory import USER_SUMMARIES, UserSummaries, UserSummariesRequest
from harmoniq_common.errors import ApiError
from harmoniq_common.events import DmChannelView, UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.read_states import ReadState
from harmoniq_common.voice import VoiceState

from .direct import Relationship, direct_ready
from .hub import Delivery, Hub
from .metrics import SESSIONS, SHED
from .presence import Presence, PresenceEvent
from .protocol import Close, Op, ProtocolError, ServerFrame, Wire
from .renewals import Renewals
from .routing import Router
from .session import SEQ_SHIFT, Session, resume_point
from .settings import GatewaySettings
from .typing_events import Typists
from .voice import VoiceRelay

__all__ = ["Gateway", "SessionRecord"]


class SessionRecord(msgspec.Struct, kw_only=True):
    user_id: int
    servers: list[int]
    status: str = "online"


class Ready(msgspec.Struct, kw_only=True):
    v: int
    session_id: str
    user: UserSummary
    servers: list[ServerSnapshot]
    # Who is not offline in each server, except in large ones (those come with op 8).
    presences: list[PresenceEvent]
    # DMs (newest activity first), relationships (friends with their presence), and read
    # states of every text channel and DM with a message or an ack (harmoniq_gateway.direct).
    dm_channels: list[DmChannelView] = []
    relationships: list[Relationship] = []
    read_states: list[ReadState] = []
    # Who is in the voice channels the user can view (then voice.state_update dispatches).
    voice_states: list[VoiceState] = []


class MembersSubscribed(msgspec.Struct, kw_only=True):
    server_id: Snowflake
    presences: list[PresenceEvent]
    cursor: str | None = None  # more online members: send op 8 again with it


class Gateway:
    def __init__(self, platform: Platform, settings: GatewaySettings) -> None:
        self.platform = platform
        self.settings = settings
        self.access = AccessCache(platform.redis, platform.nats, platform.subjects)
        # The hub delivers to the router, which tells the hub what its sessions follow: the
        # hub reaches the router through this object, built right below.
        self.hub = Hub(
            platform,
            self._deliver,
            self._ephemeral,
            debounce_seconds=settings.interest_debounce_seconds,
            replay_buffer=settings.replay_buffer_events,
        )
        self.typists = Typists(
            platform,
            self.hub,
            self.access,
            settings.typing_timeout_seconds,
            settings.typing_throttle_seconds,
        )
        self.presence = Presence(
            platform,
            self.hub,
            session_ttl_seconds=2.5 * settings.heartbeat_interval_ms / 1000,
            coalesce_seconds=settings.presence_coalesce_seconds,
            large_server=settings.large_server_threshold,
        )
        self.router = Router(
            platform,
            self.access,
            self.hub,
            message_sent=self.typists.message_sent,
            membership_changed=self.membership_changed,
            member_count_changed=self.presence.member_count_changed,
        )
        self.sessions: dict[str, Session] = {}
        # Heartbeats' own Redis client (its own pool; see app.py): liveness never queues
        # behind delivery work for a connection. The platform's until the app sets it.
        self.liveness: Redis = platform.redis
        self.renewals = Renewals(self._renew)
        self.voice = VoiceRelay(platform, settings, self.sessions)
        self.draining = False
        self._empty = asyncio.Event()
        self._empty.set()

    async def _deliver(self, delivery: Delivery, only: Session | None) -> None:
        await self.router.handle(delivery, only)

    async def _ephemeral(self, subject: str, data: bytes) -> None:
        if self.hub.backlog > self.settings.shed_typing_backlog and subject.endswith(".typing"):
            # Overloaded: typing is the first thing to go (it is stale in seconds anyway);
            # messages, edits and presence keep their place.
            SHED.labels(kind="typing").inc()
            return
        await self.typists.on_ephemeral(subject, data)
        await self.presence.on_ephemeral(subject, data)

    async def set_status(self, session: Session, status: str) -> None:
        session.status = status
        await self.presence.set(session.user_id, session.id, status)

    async def heartbeat(self, session: Session) -> None:
        """Renew the resume record and the presence expiry, with every other heartbeat due
        (renewals.py): returns when this one's renewal is written."""
        await self.renewals.renew(session)

    async def _renew(self, sessions: list[Session]) -> None:
        """One pipeline for a batch of heartbeats, on the liveness pool (never waiting behind
        delivery work for a Redis connection).

        EVALSHA directly: a pipeline given the script object first asks Redis whether the
        script exists (another round trip). Only when Redis has lost its script cache (a
        restart) does a call go again the slow way, which loads it."""
        script = self.presence.update_script
        calls = [self.presence.update_args(s.user_id, s.id, s.status) for s in sessions]
        async with self.liveness.pipeline(transaction=False) as pipe:
            for session, call in zip(sessions, calls, strict=True):
                self._save_into(pipe, session)
                pipe.evalsha(script.sha, len(call["keys"]), *call["keys"], *call["args"])
            results = await pipe.execute(raise_on_error=False)
        failed: Exception | None = None
        for index, (session, call) in enumerate(zip(sessions, calls, strict=True)):
            saved, outcome = results[2 * index], results[2 * index + 1]
            if isinstance(outcome, NoScriptError):
                outcome = await script(**call)
            for result in (saved, outcome):
                if isinstance(result, Exception):
                    failed = failed or result
            if isinstance(outcome, Exception):
                continue
            if outcome:
                # The published status moved. Rare, and also what a Redis that came back
                # empty looks like (it forgot the user's servers): write them again.
                await self.membership_changed(session)
            self.presence.changed(session.user_id, outcome)
        if failed is not None:
            raise failed

    async def membership_changed(self, session: Session) -> None:
        """The session's user joined or lost a server: their presence follows."""
        await self.presence.set_servers(session.user_id, sorted(session.servers))

    async def subscribe_members(
        self, session: Session, server_id: int, subscribe: bool, cursor: int = 0
    ) -> None:
        """Presence of a server's members for this session (it shows the member list): who is
        not offline now, a page at a time, then every change. Large servers send presence
        only this way."""
        if not subscribe:
            self.presence.unsubscribe(session, server_id)
            return
        if server_id not in session.servers:
            return
        if not cursor:
            self.presence.subscribe(session, server_id)  # first: no change falls in between
        online, next_cursor = await self.presence.online_page(
            server_id, cursor, self.settings.members_page_size
        )
        session.send(
            ServerFrame(
                op=Op.DISPATCH,
                t="members.subscribed",
                s=session.next_ephemeral_seq(),
                d=MembersSubscribed(
                    server_id=Snowflake(server_id),
                    presences=[p for p in online if int(p.user_id) != session.user_id],
                    cursor=str(next_cursor) if next_cursor else None,
                ),
            )
        )

    @property
    def _redis(self) -> Redis:
        return self.platform.redis

    def _record_key(self, session_id: str) -> str:
        return f"{self.platform.subjects.namespace}:gw:session:{session_id}"

    async def save(self, session: Session, *, connected: bool = True) -> None:
        """The record a RESUME needs; it outlives the connection by the resume window."""
        await self._save_into(self._redis, session, connected=connected)

    def _save_into(self, redis: Any, session: Session, *, connected: bool = True) -> Any:
        ttl = self.settings.resume_window_seconds
        if connected:
            ttl += 3 * self.settings.heartbeat_interval_ms // 1000
        record = SessionRecord(
            user_id=session.user_id, servers=sorted(session.servers), status=session.status
        )
        return redis.set(self._record_key(session.id), msgspec.msgpack.encode(record), ex=ttl)

    async def _principal(self, token: str) -> Principal:
        try:
            return await self.platform.verifier.verify_credential(token)
        except ApiError as exc:
            if exc.status_code >= 500:  # Redis could not say whether it is revoked: retry
                raise ProtocolError(Close.UNKNOWN_ERROR, "try again") from None
            raise ProtocolError(Close.AUTHENTICATION_FAILED, exc.message) from None

    async def identify(self, token: str, wire: Wire, status: str = "online") -> Session:
        principal = await self._principal(token)
        user_id = int(principal.user_id)
        # Subscribe first (the stream position), snapshot second: whatever happens after the
        # position is delivered on top of the snapshot, so nothing falls in between.
        position = await self.hub.current_position()
        servers = await self._user_servers(principal.user_id)
        found = await request(
            self.platform.nats,
            self.platform.subjects.rpc("auth", USER_SUMMARIES),
            UserSummariesRequest(ids=[principal.user_id]),
            UserSummaries,
        )
        if not found.users:
            raise ProtocolError(Close.AUTHENTICATION_FAILED, "unknown user")
        direct = await direct_ready(self.platform, self.presence, user_id, servers.servers)
        session = Session(
            user_id,
            wire,
            self.settings.send_queue_limit,
            token_session_id=_token_session(principal),
            last_durable=position,
        )
        self.hub.watch_user(session)
        for snapshot in servers.servers:
            session.set_access(snapshot.access)
            self.hub.watch_server(session, int(snapshot.server.id))
        self.hub.attach(session, position)
        self._register(session)
        await self.save(session)
        await self.hub.settle()  # presence changes from here on reach the session
        server_ids = [int(snapshot.server.id) for snapshot in servers.servers]
        for snapshot in servers.servers:
            self.presence.member_counts[int(snapshot.server.id)] = snapshot.member_count
        await self.presence.set_servers(user_id, server_ids)
        online = await self.presence.online_in(
            [sid for sid in server_ids if not self.presence.is_large(sid)]
        )
        ready = Ready(
            v=1,
            session_id=session.id,
            user=found.users[0],
            servers=servers.servers,
            presences=[p for p in online if int(p.user_id) != user_id],
            dm_channels=direct.dm_channels,
            relationships=direct.relationships,
            read_states=direct.read_states,
            voice_states=await self.voice.states(session, server_ids),
        )
        # Events after the position may already wait for the connection: READY goes before
        # them, with the position's s, so a resume from READY replays them.
        session.send_ahead(ServerFrame(op=Op.DISPATCH, t="ready", s=position << SEQ_SHIFT, d=ready))
        await self.set_status(session, status)
        return session

    async def _user_servers(self, user_id: Snowflake) -> UserServers:
        """Every server snapshot of the user, a page of about USER_SERVERS_PAGE_BYTES at a
        time: all at once would pass NATS's 1 MiB limit for a user in 100 servers of 50
        channels. Each page is taken after the stream position, like the first."""
        snapshots: list[ServerSnapshot] = []
        after = 0
        while True:
            page = await request(
                self.platform.nats,
                self.platform.subjects.rpc("guilds", USER_SERVERS),
                UserServersRequest(
                    user_id=user_id, after=after, page_bytes=USER_SERVERS_PAGE_BYTES
                ),
                UserServers,
            )
            snapshots.extend(page.servers)
            if not page.more or not page.servers:
                return UserServers(servers=snapshots)
            after = int(page.servers[-1].server.id)

    async def resume(self, token: str, session_id: str, seq: int, wire: Wire) -> Session | None:
        """The session continued from ``seq``, or None when it cannot be (identify again)."""
        principal = await self._principal(token)
        raw = await self._redis.get(self._record_key(session_id))
        if raw is None:
            return None
        record = msgspec.msgpack.decode(
            raw if isinstance(raw, bytes) else raw.encode(), type=SessionRecord
        )
        if record.user_id != int(principal.user_id):
            return None
        since = resume_point(seq)
        if since > await self.hub.current_position():
            raise ProtocolError(Close.INVALID_SEQ, "that sequence was never sent")
        session = Session(
            record.user_id,
            wire,
            self.settings.send_queue_limit,
            id=session_id,
            token_session_id=_token_session(principal),
            last_durable=since,
        )
        # The old connection may still be open, here or elsewhere: whoever holds it closes it.
        old = self.sessions.get(session_id)
        if old is not None:
            old.close(Close.SESSION_TIMED_OUT, "resumed elsewhere")
        await self.platform.nats.publish(
            self._takeover_subject(session_id), session.connection_id.encode()
        )
        # First in the session's frames (held until the connection takes them): the missed
        # events follow it, whether a catch-up replays them in the hub's task at the next
        # await below or a new consumer later.
        session.send(ServerFrame(op=Op.DISPATCH, t="resumed", s=session.next_ephemeral_seq(), d={}))
        self.hub.watch_user(session)
        for server_id in record.servers:
            session.servers[server_id] = None  # permissions are asked again
            self.hub.watch_server(session, server_id)
        self.hub.attach(session, since)
        self._register(session)
        await self.save(session)
        await self.hub.settle()
        await self.voice.resumed(session)
        await self.set_status(session, record.status)
        return session

    def _takeover_subject(self, session_id: str) -> str:
        return self.platform.subjects.ephemeral("gw", "takeover", session_id)

    async def watch_takeovers(self) -> Subscription:
        async def taken(message: Msg) -> None:
            session = self.sessions.get(message.subject.rsplit(".", 1)[-1])
            if session is not None and session.connection_id != bytes(message.data).decode():
                session.close(Close.SESSION_TIMED_OUT, "resumed elsewhere")

        return await self.platform.nats.subscribe(
            self.platform.subjects.ephemeral("gw", "takeover", "*"), cb=taken
        )

    def _register(self, session: Session) -> None:
        if self.draining:
            raise ProtocolError(Close.RECONNECT, "this instance is going away")
        self.sessions[session.id] = session
        SESSIONS.inc()
        self._empty.clear()

    async def disconnected(self, session: Session) -> None:
        registered = self.sessions.get(session.id) is session
        if registered:
            del self.sessions[session.id]
            SESSIONS.dec()
            if not self.sessions:
                self._empty.set()
        try:
            await self.renewals.settled(session)
            if registered:
                # Out of voice at once, unless the client is moving to another instance
                # (draining): its lease holds while it resumes there.
                await self.voice.ended(session, leave=not self.draining)
                await self.save(session, connected=False)
                if not self.draining:
                    # Gone for good unless it resumes; while draining the client is moving
                    # to another instance and its presence simply carries on there.
                    await self.presence.set(session.user_id, session.id, "")
        finally:
            # Whatever Redis did: a session left in the hub would leak, and keep receiving.
            self.presence.unsubscribe(session)
            self.hub.forget(session)

    async def drain(self, timeout: float = 5.0) -> None:
        """Before the server closes connections: tell every client to resume elsewhere."""
        self.draining = True
        for session in list(self.sessions.values()):
            session.send(ServerFrame(op=Op.RECONNECT))
            session.close(Close.RECONNECT, "reconnect and resume")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._empty.wait()


def _token_session(principal: Principal) -> int | None:
    return int(principal.session_id) if principal.session_id else None
