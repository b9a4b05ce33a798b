"""Whom a user has blocked, asked of guilds (which owns relationships) and cached exactly.

Services that show messages to a viewer (messages: history, pins, search) mark those whose
author the viewer blocked (``author_blocked``), so a client can hide them in shared servers.
The list is cached in Redis under a per-user *epoch* that guilds increments after every
committed block or unblock by that user (:func:`blocks_changed`), the scheme of
:mod:`.access`: an answer is stored under the epoch read *before* asking, so one read during a
change is never served after it. Only the blocker's own list matters: being blocked changes
nothing one is shown (and nobody learns of it). See docs/decisions.md ("Blocks hide messages").
"""

from __future__ import annotations

import msgspec
from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis

from .bus import Subjects
from .codec import decode, encode
from .consumers import request
from .ids import Snowflake

__all__ = ["USER_BLOCKS", "BlockCache", "UserBlocks", "UserBlocksRequest", "blocks_changed"]

USER_BLOCKS = "user_blocks"
_TTL_SECONDS = 300


class UserBlocksRequest(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake


class UserBlocks(msgspec.Struct, frozen=True, kw_only=True):
    """The users ``user_id`` has blocked (any order)."""

    blocked_ids: list[Snowflake]


def _epoch_key(subjects: Subjects, user_id: int) -> str:
    return f"{subjects.namespace}:blocks:epoch:{user_id}"


async def blocks_changed(redis: Redis, subjects: Subjects, user_id: int) -> None:
    """Invalidate the cached list of whom ``user_id`` blocked (after the change committed).
    The key never expires, as access epochs do not: a reset epoch could revive old lists."""
    await redis.incr(_epoch_key(subjects, user_id))


# One round trip: the user's epoch and the list cached under it. KEYS: epoch key.
# ARGV: the list key's prefix (followed by the epoch).
_LOOKUP = """
local epoch = redis.call('GET', KEYS[1]) or '0'
return {epoch, redis.call('GET', ARGV[1] .. epoch) or false}
"""


class BlockCache:
    def __init__(self, redis: Redis, nats: NatsClient, subjects: Subjects) -> None:
        self._redis = redis
        self._nats = nats
        self._subjects = subjects
        self._lookup = redis.register_script(_LOOKUP)

    async def blocked_by(self, user_id: int) -> frozenset[int]:
        """Whom ``user_id`` blocked; raises :class:`~.errors.ApiError` if guilds cannot say."""
        prefix = f"{self._subjects.namespace}:blocks:{user_id}:"
        epoch, cached = await self._lookup(
            keys=[_epoch_key(self._subjects, user_id)], args=[prefix]
        )
        if cached:
            answer = decode(cached, UserBlocks)
        else:
            answer = await request(
                self._nats,
                self._subjects.rpc("guilds", USER_BLOCKS),
                UserBlocksRequest(user_id=Snowflake(user_id)),
                UserBlocks,
            )
            epoch_text = epoch.decode() if isinstance(epoch, bytes) else str(epoch)
            await self._redis.set(prefix + epoch_text, encode(answer), ex=_TTL_SECONDS)
        return frozenset(int(b) for b in answer.blocked_ids)
