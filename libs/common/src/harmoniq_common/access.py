"""What a member may do in a server's channels, asked of guilds and cached with invalidation.

guilds owns membership, roles and overwrites; every other service (messages, gateway, media,
voice) asks it over NATS request/reply (:data:`CHANNEL_ACCESS`, :data:`SERVER_ACCESS`) and
caches the answer in Redis. The cache is exact, not merely short-lived: each server has an
*epoch* counter that guilds increments after every committed change to access in that server
(the events that do say so: ``EventPayload.changes_access``; consumers of guild events
increment again when the event arrives, in case guilds died between its commit and the
increment). Cached answers are keyed by the epoch they were read under, so
the first request after a kick, a ban or a role change misses the cache and asks guilds again.
See docs/decisions.md ("How services learn permissions").
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Annotated, Any

import msgspec
from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .auth import REVOCATION_FUNCTION, Principal, RevocationMarks
from .bus import Subjects
from .codec import decode, encode
from .consumers import request
from .errors import RateLimited, ServiceUnavailable
from .events import ChannelView, MemberView, RoleView, ServerView
from .ids import Snowflake
from .installations import within_grant
from .permissions import Overwrite, Permission, RoleGrant, channel_permissions
from .ratelimit import GCRA_FUNCTION, Decision, RateLimit, RateLimiter

__all__ = [
    "CHANNEL_ACCESS",
    "SERVER_ACCESS",
    "SERVER_ACCESS_BATCH",
    "SERVER_ACCESS_MANY",
    "USER_SERVERS",
    "USER_SERVERS_PAGE_BYTES",
    "AccessCache",
    "ChannelAccess",
    "ChannelAccessRequest",
    "ServerAccess",
    "ServerAccessMany",
    "ServerAccessManyRequest",
    "ServerAccessRequest",
    "ServerSnapshot",
    "UserServers",
    "UserServersRequest",
    "bump_epoch",
]

CHANNEL_ACCESS = "channel_access"
SERVER_ACCESS = "server_access"
SERVER_ACCESS_MANY = "server_access_many"
# Members per SERVER_ACCESS_MANY question: keeps an answer well under NATS's 1 MiB payload
# limit for servers with hundreds of channels.
SERVER_ACCESS_BATCH = 100
USER_SERVERS = "user_servers"
_TTL_SECONDS = 300


class ChannelAccessRequest(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake
    channel_id: Snowflake


class ChannelAccess(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's effective permissions in one channel (404 from guilds if they have none)."""

    server_id: Snowflake
    channel_id: Snowflake
    kind: str
    permissions: int
    role_ids: list[Snowflake] = []  # the server's roles, for validating role mentions
    # A DM or group DM: its participants, the only ones its events go to. A DM is its own
    # scope: ``server_id`` is the DM's own id (its permission epoch, its messages' server_id).
    recipient_ids: list[Snowflake] = []
    user_limit: int | None = None  # a voice channel's (0: no limit); None for other kinds

    def allows(self, permission: Permission) -> bool:
        return bool(self.permissions & permission)

    @property
    def is_direct(self) -> bool:
        return self.kind in ("dm", "group_dm")


class ServerAccessRequest(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake
    server_id: Snowflake


class ServerAccess(msgspec.Struct, frozen=True, kw_only=True):
    """The caller's effective permissions in every channel of a server they can view, and
    what they were computed from, so a channel seen in an event can be judged the same way."""

    server_id: Snowflake
    channels: list[ChannelAccess]
    user_id: Snowflake = Snowflake(0)
    is_owner: bool = False
    default_role: RoleGrant = RoleGrant(0, 0)
    member_roles: list[RoleGrant] = []
    # An installed bot's grant: its permissions never exceed it (installations.within_grant).
    grant: int | None = None

    def permissions_in(self, channel: ChannelView) -> int:
        """The caller's permissions in a channel as an event describes it (its overwrites)."""
        return within_grant(self._computed_in(channel), self.grant)

    def _computed_in(self, channel: ChannelView) -> int:
        return channel_permissions(
            user_id=self.user_id,
            is_owner=self.is_owner,
            default_role=self.default_role,
            member_roles=self.member_roles,
            overwrites=[
                Overwrite(o.target_kind, o.target_id, o.allow, o.deny) for o in channel.overwrites
            ],
            channel_kind=channel.kind,
        )

    def channels_allowing(self, permission: Permission) -> list[Snowflake]:
        return [c.channel_id for c in self.channels if c.allows(permission)]


class ServerAccessManyRequest(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    user_ids: Annotated[list[Snowflake], msgspec.Meta(min_length=1, max_length=SERVER_ACCESS_BATCH)]


class ServerAccessMany(msgspec.Struct, frozen=True, kw_only=True):
    """One :class:`ServerAccess` per asked user who is a member; non-members are left out."""

    server_id: Snowflake
    members: list[ServerAccess]


class UserServersRequest(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake
    # Paging (both optional; without them, every server at once, as before): servers with an
    # id above ``after``, as many as fit in about ``page_bytes`` encoded (at least one), so an
    # answer stays under NATS's 1 MiB payload limit for users in many large servers.
    after: int = 0
    page_bytes: int = 0


class ServerSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """A server as its member sees it right now: what the gateway's READY carries."""

    server: ServerView
    channels: list[ChannelView]  # only those the member can view
    roles: list[RoleView]
    member: MemberView
    member_count: int
    access: ServerAccess  # the member's permissions in every channel


class UserServers(msgspec.Struct, frozen=True, kw_only=True):
    servers: list[ServerSnapshot]
    more: bool = False  # paged: ask again with ``after`` = the last server's id


# What a gateway asks per page of USER_SERVERS (half of NATS's default 1 MiB max payload).
USER_SERVERS_PAGE_BYTES = 512 * 1024


def _epoch_key(subjects: Subjects, server_id: int) -> str:
    return f"{subjects.namespace}:access:epoch:{server_id}"


async def bump_epoch(redis: Redis, subjects: Subjects, server_id: int) -> None:
    """Invalidate every cached answer about this server. The key never expires: an epoch
    that restarted from zero could revive answers cached under its earlier values."""
    await redis.incr(_epoch_key(subjects, server_id))


# One round trip: which server the channel is in, that server's epoch, the answer cached
# under it. Arguments: channel->server key, key prefix, channel id, user id.
_LOOKUP_FUNCTION = """
local function lookup(channel_key, prefix, channel_id, user_id)
  local server = redis.call('GET', channel_key)
  if not server then return false end
  local epoch = redis.call('GET', prefix .. 'epoch:' .. server) or '0'
  local answer = redis.call('GET', prefix .. server .. ':' .. epoch .. ':c:' .. channel_id .. ':' .. user_id)
  return {server, epoch, answer or false}
end
"""
_LOOKUP = _LOOKUP_FUNCTION + "return lookup(KEYS[1], ARGV[1], ARGV[2], ARGV[3])"

# A send's three questions in one script (issue #15): is the caller's token revoked, may they
# send (the rate limit's hit), and their cached access to the channel. Revoked or refused, it
# stops there (a revoked caller spends no send). KEYS: the revocation keys
# (RevocationMarks.script_keys), the rate-limit key, the channel->server key. ARGV: the
# token's iat (ms), the GCRA interval, tolerance and cost, the access key prefix, channel id,
# user id. Returns {revocation outcome, GCRA result, lookup result}.
_CHECKED_LOOKUP = (
    REVOCATION_FUNCTION
    + GCRA_FUNCTION
    + _LOOKUP_FUNCTION
    + """
local outcome = revoked(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
if outcome ~= 0 then return {outcome} end
local hit = gcra(KEYS[4], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
if hit[1] == 0 then return {0, hit} end
return {0, hit, lookup(KEYS[5], ARGV[5], ARGV[6], ARGV[7])}
"""
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class AccessCache:
    def __init__(self, redis: Redis, nats: NatsClient, subjects: Subjects) -> None:
        self._redis = redis
        self._nats = nats
        self._subjects = subjects
        self._prefix = f"{subjects.namespace}:access:"
        self._lookup = redis.register_script(_LOOKUP)
        self._checked_lookup = redis.register_script(_CHECKED_LOOKUP)

    async def channel(self, user_id: int, channel_id: int) -> ChannelAccess:
        """The caller's access to a channel; raises 404 when it is unknown to them."""
        found = await self._lookup(
            keys=[f"{self._prefix}channel:{channel_id}"],
            args=[self._prefix, channel_id, user_id],
        )
        return await self._channel_from(found, user_id, channel_id)

    async def channel_limited(
        self,
        principal: Principal,
        marks: RevocationMarks,
        limiter: RateLimiter,
        rule: RateLimit,
        key: str,
        channel_id: int,
    ) -> tuple[Decision, ChannelAccess]:
        """The caller's revocation (unless already checked), a rate-limit hit and
        :meth:`channel`'s cache lookup in one Redis call (a send's three questions, issue #15):
        401 when the token is revoked, 503 when Redis cannot say, 429 when the hit is refused,
        each before guilds is asked."""
        redis_key, interval, tolerance, cost = limiter.gcra_arguments(rule, key)
        try:
            found = await self._checked_lookup(
                keys=[
                    *marks.script_keys(principal),
                    redis_key,
                    f"{self._prefix}channel:{channel_id}",
                ],
                args=[
                    principal.issued_at_ms,
                    interval,
                    tolerance,
                    cost,
                    self._prefix,
                    channel_id,
                    principal.user_id,
                ],
            )
        except RedisError as exc:
            if principal.revocation_checked:
                raise
            raise ServiceUnavailable("cannot check token revocation right now") from exc
        marks.raise_if_revoked(int(found[0]))
        decision = limiter.decision(rule, found[1])
        if not decision.allowed:
            raise RateLimited(headers=decision.headers())
        return decision, await self._channel_from(found[2], principal.user_id, channel_id)

    async def _channel_from(self, found: Any, user_id: int, channel_id: int) -> ChannelAccess:
        if found and found[2]:
            return decode(found[2], ChannelAccess)
        answer = await request(
            self._nats,
            self._subjects.rpc("guilds", CHANNEL_ACCESS),
            ChannelAccessRequest(user_id=Snowflake(user_id), channel_id=Snowflake(channel_id)),
            ChannelAccess,
        )
        if found:
            # Cached under the epoch read *before* asking: if a change committed meanwhile, the
            # epoch has moved on and nobody will read this entry.
            server, epoch = _text(found[0]), _text(found[1])
            key = f"{self._prefix}{server}:{epoch}:c:{channel_id}:{user_id}"
            await self._redis.set(key, encode(answer), ex=_TTL_SECONDS)
        else:
            # A channel never moves between servers; the answer waits for the next request,
            # when the epoch will have been read first.
            await self._redis.set(
                f"{self._prefix}channel:{channel_id}", answer.server_id, ex=_TTL_SECONDS * 12
            )
        return answer

    async def server(self, user_id: int, server_id: int) -> ServerAccess:
        """The caller's access to every channel of a server; raises 404 for non-members."""
        epoch_key = _epoch_key(self._subjects, server_id)
        epoch = _text(await self._redis.get(epoch_key) or b"0")
        key = f"{self._prefix}{server_id}:{epoch}:s:{user_id}"
        cached = await self._redis.get(key)
        if cached:
            return decode(cached, ServerAccess)
        answer = await request(
            self._nats,
            self._subjects.rpc("guilds", SERVER_ACCESS),
            ServerAccessRequest(user_id=Snowflake(user_id), server_id=Snowflake(server_id)),
            ServerAccess,
        )
        await self._redis.set(key, encode(answer), ex=_TTL_SECONDS)
        return answer

    async def servers(self, server_id: int, user_ids: Collection[int]) -> dict[int, ServerAccess]:
        """Many members' access to one server (after a role change, every session in it), one
        question per :data:`SERVER_ACCESS_BATCH` users. Users who are not members are missing
        from the result. Not cached: the one asking holds the answers (a gateway, in its
        sessions), and right after a change nobody else has them to share (reading and
        writing 5,000 entries took about 0.2 s of a gateway's time, timed step by step)."""
        wanted = sorted(set(user_ids))
        batches = [
            wanted[i : i + SERVER_ACCESS_BATCH] for i in range(0, len(wanted), SERVER_ACCESS_BATCH)
        ]
        answers = await asyncio.gather(
            *(
                request(
                    self._nats,
                    self._subjects.rpc("guilds", SERVER_ACCESS_MANY),
                    ServerAccessManyRequest(
                        server_id=Snowflake(server_id), user_ids=[Snowflake(u) for u in batch]
                    ),
                    ServerAccessMany,
                )
                for batch in batches
            )
        )
        return {int(member.user_id): member for answer in answers for member in answer.members}
