"""Presence: a user's status aggregated over all their sessions on all instances.

Redis holds, per user, each live session's chosen status with an expiry renewed by its
heartbeats; one Lua script drops expired sessions, aggregates (dnd > online > idle; invisible
and no session read as offline) and compare-and-sets the published value, so however many
instances notice a change, exactly one publishes it. The same script keeps, per server, the
statuses of its members who are not offline (READY and op 8 read them) and the user's last
seen time. A sweeper on every instance catches sessions of an instance that died silently:
their expiry passes and the user goes offline.

Publishing is coalesced per user (a burst of changes becomes one update) and goes to each of
the user's servers as a core NATS message; instances deliver it to that server's sessions,
but for large servers only to sessions that asked for its members (op 8).

The scripts touch keys they compute (the user's servers' hashes): fine on one Redis, to be
split per slot before Redis Cluster (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from typing import Any, cast

import msgspec
import structlog

from harmoniq_common.codec import decode, encode
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform

from .hub import Hub
from .protocol import encode_dispatch
from .session import Session

__all__ = ["Presence", "PresenceEvent"]

log = structlog.get_logger(__name__)

# KEYS: statuses hash, expiries zset, published string, due zset, servers set, last seen
# ARGV: now ms, user id, key prefix, [session, status, expires_ms] ("" status removes it)
_UPDATE = """
local now = tonumber(ARGV[1])
if ARGV[4] then
  if ARGV[5] == '' then
    redis.call('HDEL', KEYS[1], ARGV[4])
    redis.call('ZREM', KEYS[2], ARGV[4])
  else
    redis.call('HSET', KEYS[1], ARGV[4], ARGV[5])
    redis.call('ZADD', KEYS[2], tonumber(ARGV[6]), ARGV[4])
  end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, session in ipairs(expired) do
  redis.call('HDEL', KEYS[1], session)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local best = 'offline'
local rank = {offline = 0, idle = 1, online = 2, dnd = 3}
for _, status in ipairs(redis.call('HVALS', KEYS[1])) do
  if status ~= 'invisible' and rank[status] > rank[best] then best = status end
end
local nearest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if nearest[2] then
  redis.call('ZADD', KEYS[4], tonumber(nearest[2]), ARGV[2])
else
  redis.call('ZREM', KEYS[4], ARGV[2])
end
local previous = redis.call('GET', KEYS[3]) or 'offline'
if previous == best then return false end
redis.call('SET', KEYS[3], best)
if best == 'offline' then redis.call('SET', KEYS[6], math.floor(now / 1000)) end
for _, server in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  local online = ARGV[3] .. 'server:' .. server .. ':online'
  if best == 'offline' then
    redis.call('HDEL', online, ARGV[2])
  else
    redis.call('HSET', online, ARGV[2], best)
  end
end
return best
"""

# KEYS: servers set, published string; ARGV: user id, key prefix, server ids...
# Replaces the user's servers, and their entries in the servers' online hashes with them.
_SERVERS = """
local status = redis.call('GET', KEYS[2]) or 'offline'
local wanted = {}
for i = 3, #ARGV do wanted[ARGV[i]] = true end
for _, server in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not wanted[server] then
    redis.call('SREM', KEYS[1], server)
    redis.call('HDEL', ARGV[2] .. 'server:' .. server .. ':online', ARGV[1])
  end
end
for i = 3, #ARGV do
  redis.call('SADD', KEYS[1], ARGV[i])
  if status ~= 'offline' then
    redis.call('HSET', ARGV[2] .. 'server:' .. ARGV[i] .. ':online', ARGV[1], status)
  end
end
return status
"""


class PresenceEvent(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    user_id: Snowflake
    status: str
    last_seen: int | None = None  # Unix seconds, when they went offline


def _presences(server_id: int, statuses: dict[bytes, bytes]) -> list[PresenceEvent]:
    """A server's online hash (user id -> status) as presence events."""
    return [
        PresenceEvent(
            server_id=Snowflake(server_id), user_id=Snowflake(int(user)), status=status.decode()
        )
        for user, status in statuses.items()
    ]


class Presence:
    def __init__(
        self,
        platform: Platform,
        hub: Hub,
        *,
        session_ttl_seconds: float,
        coalesce_seconds: float,
        large_server: int,
    ) -> None:
        self._platform = platform
        self._hub = hub
        self._ttl_ms = int(session_ttl_seconds * 1000)
        self._coalesce = coalesce_seconds
        self.large_server = large_server
        self._prefix = f"{platform.subjects.namespace}:presence:"
        self._update = platform.redis.register_script(_UPDATE)
        self._servers = platform.redis.register_script(_SERVERS)
        self._pending: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Sessions that asked for a large server's member presence (op 8), and the reverse.
        self._subscribers: defaultdict[int, set[Session]] = defaultdict(set)
        self._subscriptions: defaultdict[Session, set[int]] = defaultdict(set)
        self.member_counts: dict[int, int] = {}

    def _keys(self, user_id: int) -> list[str]:
        p = self._prefix
        return [
            f"{p}{user_id}:statuses",
            f"{p}{user_id}:expiries",
            f"{p}{user_id}:status",
            f"{p}due",
            f"{p}{user_id}:servers",
            f"{p}{user_id}:last_seen",
        ]

    def _online_key(self, server_id: int) -> str:
        return f"{self._prefix}server:{server_id}:online"

    def update_args(self, user_id: int, session_id: str, status: str) -> dict[str, Any]:
        """The script call recording a session's status, for callers batching it (heartbeat)."""
        now = int(time.time() * 1000)
        return {
            "keys": self._keys(user_id),
            "args": [now, user_id, self._prefix, session_id, status, now + self._ttl_ms],
        }

    async def set(self, user_id: int, session_id: str, status: str) -> None:
        """Record a session's status (``""`` removes it) and publish the user's if it changed."""
        self.changed(user_id, await self._update(**self.update_args(user_id, session_id, status)))

    def changed(self, user_id: int, outcome: object) -> None:
        if outcome:  # only the instance whose update changed the status announces it
            self._schedule(user_id)

    @property
    def update_script(self) -> Any:
        return self._update

    async def set_servers(self, user_id: int, servers: list[int]) -> None:
        """The servers the user is in now: their presence goes there, and only there."""
        await self._servers(
            keys=[f"{self._prefix}{user_id}:servers", f"{self._prefix}{user_id}:status"],
            args=[user_id, self._prefix, *servers],
        )

    async def status_of(self, user_id: int) -> str:
        value = await self._platform.redis.get(f"{self._prefix}{user_id}:status")
        return value.decode() if isinstance(value, bytes) else (value or "offline")

    async def statuses_of(self, user_ids: list[int]) -> dict[int, str]:
        """Several users' published statuses (one round trip): a friends list."""
        if not user_ids:
            return {}
        values = await self._platform.redis.mget([f"{self._prefix}{u}:status" for u in user_ids])
        return {
            u: (v.decode() if isinstance(v, bytes) else (v or "offline"))
            for u, v in zip(user_ids, values, strict=True)
        }

    async def online_in(self, servers: list[int]) -> list[PresenceEvent]:
        """Everyone not offline in these servers (one round trip)."""
        if not servers:
            return []
        async with self._platform.redis.pipeline(transaction=False) as pipe:
            for server_id in servers:
                pipe.hgetall(self._online_key(server_id))
            found: list[dict[bytes, bytes]] = await pipe.execute()
        return [
            event
            for server_id, statuses in zip(servers, found, strict=True)
            for event in _presences(server_id, statuses)
        ]

    async def online_page(
        self, server_id: int, cursor: int, count: int
    ) -> tuple[list[PresenceEvent], int]:
        """A page of who is not offline in the server (HSCAN: someone present throughout is
        in some page, maybe twice); the cursor of the next page, 0 after the last."""
        next_cursor, statuses = await self._platform.redis.hscan(
            self._online_key(server_id), cursor=cursor, count=count
        )
        # HSCAN answers a mapping (RESP2 and 3)
        return _presences(server_id, cast(dict[bytes, bytes], statuses)), int(next_cursor)

    # -- large servers: presence for those who asked ------------------------------------------

    def is_large(self, server_id: int) -> bool:
        return self.member_counts.get(server_id, 0) > self.large_server

    def subscribe(self, session: Session, server_id: int) -> None:
        self._subscribers[server_id].add(session)
        self._subscriptions[session].add(server_id)

    def unsubscribe(self, session: Session, server_id: int | None = None) -> None:
        """Stop sending this server's (or, with None, any server's) presence to the session."""
        servers = self._subscriptions.get(session, set())
        for sid in [server_id] if server_id is not None else list(servers):
            servers.discard(sid)
            subscribers = self._subscribers.get(sid)
            if subscribers is not None:
                subscribers.discard(session)
                if not subscribers:
                    del self._subscribers[sid]
        if not servers:
            self._subscriptions.pop(session, None)

    def member_count_changed(self, server_id: int, delta: int, count: int | None) -> None:
        """``count``: the server's count as the event states it (exact); ``delta`` for events
        from before events stated it."""
        if server_id in self.member_counts:
            known = self.member_counts[server_id] + delta if count is None else count
            self.member_counts[server_id] = max(0, known)

    # -- publishing ---------------------------------------------------------------------------

    def _schedule(self, user_id: int) -> None:
        """Coalesce: one publication per user per window, with the state at its end."""
        if user_id not in self._pending:
            loop = asyncio.get_running_loop()
            self._pending[user_id] = loop.call_later(self._coalesce, self._flush, user_id)

    def _flush(self, user_id: int) -> None:
        self._pending.pop(user_id, None)
        task = asyncio.get_running_loop().create_task(self._publish(user_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, user_id: int) -> None:
        try:
            await self._announce(user_id)
        except Exception:
            log.warning("presence.publish_failed", user_id=user_id, exc_info=True)

    async def _announce(self, user_id: int) -> None:
        async with self._platform.redis.pipeline(transaction=False) as pipe:
            pipe.get(f"{self._prefix}{user_id}:status")
            pipe.get(f"{self._prefix}{user_id}:last_seen")
            pipe.smembers(f"{self._prefix}{user_id}:servers")
            status, seen, servers = await pipe.execute()
        published = status.decode() if status else "offline"
        last_seen = int(seen) if published == "offline" and seen else None
        for raw in servers:
            server_id = int(raw)
            event = PresenceEvent(
                server_id=Snowflake(server_id),
                user_id=Snowflake(user_id),
                status=published,
                last_seen=last_seen,
            )
            await self._platform.nats.publish(
                self._platform.subjects.ephemeral("server", server_id, "presence"),
                encode(event),
            )

    async def on_ephemeral(self, subject: str, data: bytes) -> None:
        if not subject.endswith(".presence"):
            return
        event = decode(data, PresenceEvent)
        server_id = int(event.server_id)
        # Large servers: only the sessions that asked, without scanning all the others.
        recipients = (
            self._subscribers.get(server_id, ())
            if self.is_large(server_id)
            else self._hub.by_server.get(server_id, ())
        )
        payload = msgspec.to_builtins(event, enc_hook=str)
        for session in list(recipients):
            if session.user_id == int(event.user_id):
                continue
            session.send_bytes(
                encode_dispatch(
                    "presence.update", session.next_ephemeral_seq(), payload, session.wire.encoding
                )
            )

    # -- the sweeper: sessions whose instance died ------------------------------------------

    def start(self, interval: float) -> None:
        self._sweeper = asyncio.create_task(self._sweep_forever(interval))

    async def stop(self) -> None:
        """By flag, not ``Task.cancel()``: a cancellation landing inside a Redis call can be
        swallowed there, and the sweeper would then never end."""
        for handle in self._pending.values():
            handle.cancel()
        self._stopping.set()
        if self._sweeper is not None:
            await self._sweeper

    async def sweep(self) -> int:
        now = int(time.time() * 1000)
        due = await self._platform.redis.zrangebyscore(f"{self._prefix}due", "-inf", now, 0, 500)
        for raw in due:
            user_id = int(raw if isinstance(raw, bytes | str) else raw[0])
            self.changed(
                user_id,
                await self._update(keys=self._keys(user_id), args=[now, user_id, self._prefix]),
            )
        return len(due)

    async def _sweep_forever(self, interval: float) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._stopping.wait()
            if self._stopping.is_set():
                break
            try:
                await self.sweep()
            except Exception:
                log.warning("presence.sweep_failed", exc_info=True)
