"""Friends, friend requests and blocks; and who may open a DM with whom.

The rows (one per direction, migration 0003) move through these states, per pair::

    none ──request──> outgoing / incoming ──accept──> friend / friend
      ^                     │ decline, cancel             │ remove
      └─────────────────────┴─────────────────────────────┘
    any ──block──> blocked (the blocker's row) / none (the blocked person's: they are not told)

Each change is a ``relationship.update`` or ``relationship.remove`` to each side whose list
changed, and to nobody else. A block ends a friendship or request both ways and stops new
requests and new DMs both ways; the refusal reads the same whichever side blocked.
"""

from __future__ import annotations

from functools import partial

import asyncpg

from harmoniq_common.access import bump_epoch
from harmoniq_common.blocks import blocks_changed
from harmoniq_common.errors import BadRequest, Forbidden, NotFound
from harmoniq_common.events import (
    DmPrivacyUpdated,
    RelationshipRemoved,
    RelationshipUpdated,
    RelationshipView,
    UserSummary,
)
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..store import direct as direct_store
from ..store import relationships as store
from ..store.rows import RelationshipRow

__all__ = ["Relationships", "blocks_changed_on_commit", "may_dm", "relationship_view"]


def relationship_view(row: RelationshipRow) -> RelationshipView:
    return RelationshipView(
        user=UserSummary(id=row.other_id, username=row.username, avatar_url=row.avatar_url),
        kind=row.kind,
        since=row.since,
    )


def _refused() -> Forbidden:
    return Forbidden("this user does not accept that from you", code="relationship_refused")


async def is_blocked_either_way(conn: asyncpg.Connection, a: int, b: int) -> bool:
    return "blocked" in (
        await store.kind_between(conn, a, b),
        await store.kind_between(conn, b, a),
    )


async def may_dm(conn: asyncpg.Connection, sender_id: int, recipient_id: int) -> None:
    """Friends may; so may members of a server the recipient allows DMs from; a block in
    either direction stops it. One refusal for every reason (nobody learns of a block)."""
    if await is_blocked_either_way(conn, sender_id, recipient_id):
        raise Forbidden("you cannot message this user", code="dm_refused")
    if await store.kind_between(conn, sender_id, recipient_id) == "friend":
        return
    if not await store.allows_dms_from_server_mate(conn, sender_id, recipient_id):
        raise Forbidden("you cannot message this user", code="dm_refused")


class Relationships:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def list_all(self, user_id: Snowflake) -> list[RelationshipRow]:
        async with self._platform.pool.acquire() as conn:
            return await store.list_for(conn, user_id)

    async def allows_dms(self, server_id: int, user_id: Snowflake) -> bool:
        async with self._platform.pool.acquire() as conn:
            allowed = await store.allow_dms(conn, server_id, user_id)
        if allowed is None:
            raise NotFound("unknown server", code="unknown_server")
        return bool(allowed)

    async def set_allow_dms(self, server_id: int, user_id: Snowflake, allow: bool) -> None:
        async with unit_of_work(self._platform) as tx:
            if not await store.set_allow_dms(tx.conn, server_id, user_id, allow):
                raise NotFound("unknown server", code="unknown_server")
            await tx.emit_user(
                user_id,
                DmPrivacyUpdated(
                    user_id=Snowflake(user_id), server_id=Snowflake(server_id), allow_dms=allow
                ),
            )

    async def request_by_name(self, user_id: Snowflake, username: str) -> RelationshipRow:
        async with self._platform.pool.acquire() as conn:
            other = await store.find_user(conn, username)
        if other is None:
            raise NotFound("no user has that name", code="unknown_user")
        return await self.befriend(user_id, other)

    async def _announce(self, tx: UnitOfWork, user_id: int, other_id: int) -> RelationshipRow:
        row = await store.get(tx.conn, user_id, other_id)
        assert row is not None
        await tx.emit_user(
            user_id,
            RelationshipUpdated(user_id=Snowflake(user_id), relationship=relationship_view(row)),
        )
        return row

    async def _forget(self, tx: UnitOfWork, user_id: int, other_id: int) -> None:
        """Remove ``user_id``'s entry for ``other_id`` and tell them, if there was one."""
        if await store.delete(tx.conn, user_id, other_id) is not None:
            await tx.emit_user(
                user_id,
                RelationshipRemoved(user_id=Snowflake(user_id), other_id=Snowflake(other_id)),
            )

    async def befriend(self, user_id: Snowflake, other_id: Snowflake) -> RelationshipRow:
        """Send a request, or accept theirs; repeating either changes nothing."""
        if user_id == other_id:
            raise BadRequest("you cannot befriend yourself", code="relationship_refused")
        async with unit_of_work(self._platform) as tx:
            await _lock_pair(tx.conn, user_id, other_id)
            if await is_blocked_either_way(tx.conn, user_id, other_id):
                raise _refused()
            mine = await store.kind_between(tx.conn, user_id, other_id)
            if mine in ("friend", "outgoing"):
                row = await store.get(tx.conn, user_id, other_id)
                assert row is not None
                return row
            if mine == "incoming":  # accept
                await store.put(tx.conn, user_id, other_id, "friend")
                await store.put(tx.conn, other_id, user_id, "friend")
            else:
                await store.put(tx.conn, user_id, other_id, "outgoing")
                await store.put(tx.conn, other_id, user_id, "incoming")
            await self._announce(tx, other_id, user_id)
            return await self._announce(tx, user_id, other_id)

    async def block(self, user_id: Snowflake, other_id: Snowflake) -> RelationshipRow:
        if user_id == other_id:
            raise BadRequest("you cannot block yourself", code="relationship_refused")
        async with unit_of_work(self._platform) as tx:
            await _lock_pair(tx.conn, user_id, other_id)
            await _pair_dm_changed(tx, user_id, other_id)
            if await store.kind_between(tx.conn, other_id, user_id) != "blocked":
                # Their friendship or request ends; that they were blocked is not said.
                await self._forget(tx, other_id, user_id)
            if await store.kind_between(tx.conn, user_id, other_id) != "blocked":
                await store.put(tx.conn, user_id, other_id, "blocked")
                blocks_changed_on_commit(tx, user_id)
                return await self._announce(tx, user_id, other_id)
            row = await store.get(tx.conn, user_id, other_id)
            assert row is not None
            return row

    async def remove(self, user_id: Snowflake, other_id: Snowflake) -> None:
        """Unfriend, decline, cancel or unblock, whichever the entry is."""
        async with unit_of_work(self._platform) as tx:
            await _lock_pair(tx.conn, user_id, other_id)
            mine = await store.kind_between(tx.conn, user_id, other_id)
            if mine is None:
                raise NotFound("no relationship with this user", code="unknown_relationship")
            await self._forget(tx, user_id, other_id)
            if mine == "blocked":
                await _pair_dm_changed(tx, user_id, other_id)
                blocks_changed_on_commit(tx, user_id)
            else:  # friend or request: both sides' entries go
                await self._forget(tx, other_id, user_id)


async def _pair_dm_changed(tx: UnitOfWork, a: int, b: int) -> None:
    """A block or unblock changes what each may do in their 1:1 DM, if they have one."""
    dm = await direct_store.get_pair(tx.conn, direct_store.pair_key(a, b))
    if dm is not None:
        platform = tx.platform
        tx.after_commit(partial(bump_epoch, platform.redis, platform.subjects, dm.id))


def blocks_changed_on_commit(tx: UnitOfWork, user_id: int) -> None:
    """Whom ``user_id`` blocked changed: services caching that list ask again."""
    platform = tx.platform
    tx.after_commit(partial(blocks_changed, platform.redis, platform.subjects, user_id))


async def _lock_pair(conn: asyncpg.Connection, a: int, b: int) -> None:
    """One change at a time per pair, so two people accepting each other at once agree."""
    low, high = sorted((a, b))
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('relationship'), hashtext($1))", f"{low}:{high}"
    )
