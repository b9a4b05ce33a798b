"""Presence: a user's status aggregated over all their sessions on all instances.

Redis holds, per user, each live session's chosen status with an expiry renewed by its
heartbeats; one Lua script drops expired sessions, aggregates (dnd > online > idle; invisible
and no session read as offline) and compare-and-sets the published value, so however many
instances notice a change, exactly one publishes it. A sweeper on every instance catches
sessions of an instance that died silently: their expiry passes and the user goes offline.

Publishing is coalesced per user (a burst of changes becomes one update) and goes to each of
the user's servers as a core NATS message; instances deliver it to that server's sessions,
but for large servers only to sessions that asked for its members (op 8).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
import structlog

from harmoniq_common.codec import decode, encode
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform

from .hub import Hub
from .protocol import encode_dispatch

__all__ = ["Presence", "PresenceEvent"]

log = structlog.get_logger(__name__)

# KEYS: statuses hash, expiries zset, published string, due zset
# ARGV: now ms, user id, [session, status, expires_ms] (status "" removes the session)
_UPDATE = """
local now = tonumber(ARGV[1])
if ARGV[3] then
  if ARGV[4] == '' then
    redis.call('HDEL', KEYS[1], ARGV[3])
    redis.call('ZREM', KEYS[2], ARGV[3])
  else
    redis.call('HSET', KEYS[1], ARGV[3], ARGV[4])
    redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), ARGV[3])
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
return best
"""


class PresenceEvent(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    user_id: Snowflake
    status: str
    last_seen: int | None = None  # Unix seconds, when they went offline


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
        self._large = large_server
        self._prefix = f"{platform.subjects.namespace}:presence:"
        self._update = platform.redis.register_script(_UPDATE)
        self._pending: dict[int, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Sessions that asked for a large server's member presence (op 8).
        self.subscribed: dict[int, set[str]] = {}
        self.member_counts: dict[int, int] = {}

    def _keys(self, user_id: int) -> list[str]:
        p = self._prefix
        return [
            f"{p}{user_id}:statuses",
            f"{p}{user_id}:expiries",
            f"{p}{user_id}:status",
            f"{p}due",
        ]

    async def set(self, user_id: int, servers: list[int], session_id: str, status: str) -> None:
        """Record a session's status (``""`` removes it) and publish the user's if it changed."""
        now = int(time.time() * 1000)
        if servers:
            await self._platform.redis.sadd(f"{self._prefix}{user_id}:servers", *servers)
        changed = await self._update(
            keys=self._keys(user_id),
            args=[now, user_id, session_id, status, now + self._ttl_ms],
        )
        if changed:  # only the instance whose update changed the status announces it
            self._schedule(user_id)

    async def status_of(self, user_id: int) -> str:
        value = await self._platform.redis.get(f"{self._prefix}{user_id}:status")
        return value.decode() if isinstance(value, bytes) else (value or "offline")

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
        published = await self.status_of(user_id)
        last_seen = int(time.time()) if published == "offline" else None
        servers = await self._platform.redis.smembers(f"{self._prefix}{user_id}:servers")
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
        large = self.member_counts.get(server_id, 0) > self._large
        wanted = self.subscribed.get(server_id, set())
        payload = msgspec.to_builtins(event, enc_hook=str)
        for session in list(self._hub.by_server.get(server_id, ())):
            if session.user_id == int(event.user_id):
                continue
            if large and session.id not in wanted:
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
            if await self._update(keys=self._keys(user_id), args=[now, user_id]):
                self._schedule(user_id)
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
