"""Voice states: join, move, leave, mute; moderators' actions; leases and their sweep.

The rules (docs/api.md "Voice"): a user is in at most one voice channel, from one gateway
session; joining needs ``VIEW_CHANNEL`` and ``CONNECT``, and without ``SPEAK`` they are joined
suppressed (muted); a channel holds at most its user limit (``MOVE_MEMBERS`` may exceed it)
and never more than the mesh limit. Every change is one unit of work that emits
``voice.state_update`` on the server's subject; joins to one channel are serialised by a
transaction-scoped advisory lock so two cannot both take its last place.
"""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg

from harmoniq_common.access import AccessCache, ChannelAccess
from harmoniq_common.errors import BadRequest, Forbidden, NotFound
from harmoniq_common.events import VoiceStateUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work
from harmoniq_common.voice import VoiceState, VoiceStateRequest

from ..settings import VoiceSettings
from ..store import states
from ..store.states import StateRow

__all__ = ["Moderation", "Voice", "state_view"]

CONNECT = Permission.VIEW_CHANNEL | Permission.CONNECT


def state_view(row: StateRow) -> VoiceState:
    return VoiceState(
        server_id=row.server_id,
        channel_id=row.channel_id,
        user_id=row.user_id,
        session_id=row.session_id,
        self_mute=row.self_mute,
        self_deaf=row.self_deaf,
        mute=row.mute,
        deaf=row.deaf,
        suppress=row.suppress,
    )


def _event(
    row: StateRow, *, left: bool = False, previous: int | None = None, reason: str | None = None
) -> VoiceStateUpdated:
    return VoiceStateUpdated(
        server_id=row.server_id,
        channel_id=None if left else row.channel_id,
        user_id=row.user_id,
        session_id=row.session_id,
        self_mute=row.self_mute,
        self_deaf=row.self_deaf,
        mute=row.mute,
        deaf=row.deaf,
        suppress=row.suppress,
        # Leaving: the channel they left, so its viewers (only they) hear of it.
        previous_channel_id=row.channel_id
        if left
        else (Snowflake(previous) if previous is not None else None),
        reason=reason,
    )


class Moderation:
    """A moderator's change to someone's voice state (``None``: unchanged)."""

    def __init__(
        self, mute: bool | None = None, deaf: bool | None = None, channel_id: int | None = None
    ) -> None:
        self.mute, self.deaf, self.channel_id = mute, deaf, channel_id


class Voice:
    def __init__(self, platform: Platform, settings: VoiceSettings, access: AccessCache) -> None:
        self._platform = platform
        self._settings = settings
        self._access = access

    # -- the user's own state (the gateway's op) -------------------------------------------

    async def _voice_channel(self, user_id: int, channel_id: int) -> ChannelAccess:
        """The user's access to a voice channel they may connect to; 404/400/403 otherwise."""
        access = await self._access.channel(user_id, channel_id)
        if access.kind != "voice":
            raise BadRequest.for_field(
                "channel_id", "not a voice channel", code="not_a_voice_channel"
            )
        if access.permissions & CONNECT != CONNECT:
            raise Forbidden("you may not connect to this channel (CONNECT)", code="missing_connect")
        return access

    def _check_room(self, access: ChannelAccess, others: int) -> None:
        if others >= self._settings.mesh_limit:
            raise Forbidden(
                f"this channel is full ({self._settings.mesh_limit} is the most a call holds)",
                code="channel_full",
            )
        limit = access.user_limit or 0
        if limit and others >= limit and not access.allows(Permission.MOVE_MEMBERS):
            raise Forbidden(f"this channel is full ({limit} users)", code="channel_full")

    async def update_own(self, request: VoiceStateRequest) -> VoiceState | None:
        """Join, move, change self mute/deafen (``channel_id`` set) or leave (``None``)."""
        user_id = int(request.user_id)
        if request.channel_id is None:
            async with unit_of_work(self._platform) as tx:
                for row in await states.delete_user(tx.conn, user_id):
                    await tx.emit_server(row.server_id, _event(row, left=True))
            return None
        channel_id = int(request.channel_id)
        access = await self._voice_channel(user_id, channel_id)
        async with unit_of_work(self._platform) as tx:
            await states.lock_channel(tx.conn, channel_id)
            current = await states.get_for_user(tx.conn, user_id)
            if current is None or current.channel_id != channel_id:
                self._check_room(
                    access, await states.count_in_channel(tx.conn, channel_id, user_id)
                )
            row = await states.upsert(
                tx.conn,
                user_id=user_id,
                server_id=access.server_id,
                channel_id=channel_id,
                session_id=request.session_id,
                self_mute=request.self_mute,
                self_deaf=request.self_deaf,
                suppress=not access.allows(Permission.SPEAK),
                ttl_seconds=self._settings.state_ttl_seconds,
            )
            await self._emit_change(tx, current, row)
        return state_view(row)

    async def _emit_change(self, tx: UnitOfWork, before: StateRow | None, after: StateRow) -> None:
        if before == after:
            return  # the same request again: nothing happened
        if before is not None and before.server_id != after.server_id:
            # Another server's members see them leave there, and this server's see them arrive.
            await tx.emit_server(before.server_id, _event(before, left=True))
            before = None
        previous = None if before is None else int(before.channel_id)
        await tx.emit_server(after.server_id, _event(after, previous=previous))

    # -- what others see ---------------------------------------------------------------------

    async def in_channel(self, user_id: int, channel_id: int) -> list[VoiceState]:
        """Who is in a channel the caller can view (404 otherwise)."""
        await self._access.channel(user_id, channel_id)
        async with self._platform.pool.acquire() as conn:
            return [state_view(r) for r in await states.in_channel(conn, channel_id)]

    async def in_servers(self, server_ids: Iterable[int]) -> list[VoiceState]:
        async with self._platform.pool.acquire() as conn:
            return [state_view(r) for r in await states.in_servers(conn, list(server_ids))]

    # -- moderators ----------------------------------------------------------------------------

    @staticmethod
    async def _target(conn: asyncpg.Connection, channel_id: int, user_id: int) -> StateRow:
        row = await states.get_for_user(conn, user_id)
        if row is None or row.channel_id != channel_id:
            raise NotFound("that user is not in this voice channel", code="unknown_voice_state")
        return row

    async def moderate(
        self, actor_id: int, channel_id: int, user_id: int, change: Moderation
    ) -> VoiceState:
        """Server mute/deafen (MUTE_MEMBERS / DEAFEN_MEMBERS) and move (MOVE_MEMBERS, and the
        moved user must be able to connect to the new channel) of a user in ``channel_id``."""
        mine = await self._access.channel(actor_id, channel_id)
        needed = Permission(0)
        if change.mute is not None:
            needed |= Permission.MUTE_MEMBERS
        if change.deaf is not None:
            needed |= Permission.DEAFEN_MEMBERS
        if change.channel_id is not None:
            needed |= Permission.MOVE_MEMBERS
        if mine.permissions & needed != needed:
            missing = Permission(needed & ~mine.permissions)
            raise Forbidden(f"missing permission: {missing.name}", code="missing_permissions")
        target: ChannelAccess | None = None
        if change.channel_id is not None and change.channel_id != channel_id:
            target = await self._move_target(actor_id, user_id, mine, change.channel_id)
        async with unit_of_work(self._platform) as tx:
            before = await self._target(tx.conn, channel_id, user_id)
            if change.mute is not None or change.deaf is not None:
                await states.set_moderation(
                    tx.conn, before.server_id, user_id, mute=change.mute, deaf=change.deaf
                )
            if target is not None:
                await states.lock_channel(tx.conn, int(target.channel_id))
                others = await states.count_in_channel(tx.conn, int(target.channel_id), user_id)
                if others >= self._settings.mesh_limit:
                    raise Forbidden("that channel is full", code="channel_full")
                await states.upsert(
                    tx.conn,
                    user_id=user_id,
                    server_id=before.server_id,
                    channel_id=int(target.channel_id),
                    session_id=before.session_id,
                    self_mute=before.self_mute,
                    self_deaf=before.self_deaf,
                    suppress=not target.allows(Permission.SPEAK),
                    ttl_seconds=self._settings.state_ttl_seconds,
                )
            after = await states.get_for_user(tx.conn, user_id)
            assert after is not None
            if after != before:
                previous = None if target is None else channel_id
                await tx.emit_server(
                    after.server_id,
                    _event(after, previous=previous, reason="moved" if target else None),
                )
        return state_view(after)

    async def _move_target(
        self, actor_id: int, user_id: int, mine: ChannelAccess, channel_id: int
    ) -> ChannelAccess:
        """The channel a user is moved to: one of this server's voice channels that the mover
        can see and the moved user may connect to (a move is no way around CONNECT)."""
        theirs_there = await self._access.channel(actor_id, channel_id)
        if theirs_there.server_id != mine.server_id or theirs_there.kind != "voice":
            raise BadRequest.for_field("channel_id", "not a voice channel of this server")
        try:
            return await self._voice_channel(user_id, channel_id)
        except (NotFound, Forbidden):
            raise Forbidden(
                "that user may not connect to that channel", code="missing_connect"
            ) from None

    async def disconnect(self, actor_id: int, channel_id: int, user_id: int) -> None:
        """A moderator (MOVE_MEMBERS) disconnects someone; anyone may disconnect themselves."""
        mine = await self._access.channel(actor_id, channel_id)
        if actor_id != user_id and not mine.allows(Permission.MOVE_MEMBERS):
            raise Forbidden("missing permission: MOVE_MEMBERS", code="missing_permissions")
        async with unit_of_work(self._platform) as tx:
            row = await self._target(tx.conn, channel_id, user_id)
            for gone in await states.delete_user(tx.conn, user_id, int(row.server_id)):
                reason = None if actor_id == user_id else "disconnected"
                await tx.emit_server(gone.server_id, _event(gone, left=True, reason=reason))

    # -- leases and removals -------------------------------------------------------------------

    async def renew(self, session_ids: list[str]) -> int:
        async with self._platform.pool.acquire() as conn:
            return await states.renew(conn, session_ids, self._settings.state_ttl_seconds)

    async def session_ended(self, session_id: str) -> None:
        async with unit_of_work(self._platform) as tx:
            for row in await states.delete_session(tx.conn, session_id):
                await tx.emit_server(row.server_id, _event(row, left=True, reason="disconnected"))

    async def sweep(self) -> int:
        """Remove the states whose gateway stopped renewing them (it died, or lost Redis)."""
        async with unit_of_work(self._platform) as tx:
            gone = await states.delete_expired(tx.conn)
            for row in gone:
                await tx.emit_server(row.server_id, _event(row, left=True, reason="timed_out"))
        return len(gone)

    async def remove(
        self,
        *,
        reason: str,
        server_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        """Everyone in a server, in a channel, or one member of a server: gone at once (a
        deletion, a kick or a ban). Idempotent: what is not there any more emits nothing."""
        async with unit_of_work(self._platform) as tx:
            if channel_id is not None:
                gone = await states.delete_in_channel(tx.conn, channel_id)
            elif user_id is not None:
                gone = await states.delete_user(tx.conn, user_id, server_id)
                if server_id is not None:
                    await states.clear_moderation(tx.conn, server_id, user_id)
            elif server_id is not None:
                gone = await states.delete_in_server(tx.conn, server_id)
                await states.clear_moderation(tx.conn, server_id, None)
            else:
                return
            for row in gone:
                await tx.emit_server(row.server_id, _event(row, left=True, reason=reason))

    async def recheck(self, server_id: int, user_id: int | None = None) -> None:
        """After a change to access in a server: who may no longer connect leaves, and
        ``suppress`` follows ``SPEAK``. Asked of guilds afresh, for everyone in voice there at
        once (``SERVER_ACCESS_MANY``: one question per hundred users, not one each)."""
        async with self._platform.pool.acquire() as conn:
            rows = [
                r
                for r in await states.in_servers(conn, [server_id])
                if user_id is None or int(r.user_id) == user_id
            ]
        if not rows:
            return
        found = await self._access.servers(server_id, {int(r.user_id) for r in rows})
        for row in rows:
            member = found.get(int(row.user_id))
            channel = None
            if member is not None:
                channel = next((c for c in member.channels if c.channel_id == row.channel_id), None)
            if channel is None or channel.permissions & CONNECT != CONNECT:
                await self._remove_row(row, "lost_access")
            elif channel.allows(Permission.SPEAK) == row.suppress:
                await self._set_suppress(row, not channel.allows(Permission.SPEAK))

    async def _remove_row(self, row: StateRow, reason: str) -> None:
        async with unit_of_work(self._platform) as tx:
            gone = await states.delete_user(
                tx.conn, int(row.user_id), int(row.server_id), int(row.channel_id)
            )
            for left in gone:
                await tx.emit_server(left.server_id, _event(left, left=True, reason=reason))

    async def _set_suppress(self, row: StateRow, suppress: bool) -> None:
        async with unit_of_work(self._platform) as tx:
            await states.set_suppress(tx.conn, int(row.user_id), suppress)
            after = await states.get_for_user(tx.conn, int(row.user_id))
            if after is not None and after.channel_id == row.channel_id:
                await tx.emit_server(after.server_id, _event(after))
