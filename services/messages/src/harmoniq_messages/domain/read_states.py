"""Read states: acks (monotonic, coalesced), unread flags and mention counts, and the
notification settings that silence them.

An ack is one small write: ``read_states`` moves forwards only (an older ack changes nothing),
and the change reaches the user's other sessions as ``channel.ack`` (a durable user event,
through the outbox, in the ack's transaction). A client that acks many times a second is
coalesced per user and channel on the instance it reaches: the first ack of a window is
written at once, later ones within ``ack_coalesce_seconds`` are folded into one write at the
window's end (the highest id wins), so a burst costs two writes, not one per ack. The answer
to each ack already shows the state as it will be. Pending acks are written on shutdown.

Unread and mention counts are computed when asked (READY, an ack), not kept as counters that
every message would have to update for every member: one statement for any number of channels
(``store.read_states``), mention counts capped at :data:`MAX_MENTION_COUNT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime

import structlog

from harmoniq_common.access import AccessCache, ChannelAccess
from harmoniq_common.errors import ApiError, BadRequest, NotFound
from harmoniq_common.events import ChannelAcked, NotificationSettingsUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.read_states import ReadState, ReadStates, ReadStatesRequest
from harmoniq_common.uow import unit_of_work

from ..store import messages as messages_store
from ..store import read_states as store
from ..store.rows import NotificationSettingRow, ReadStateRow
from .messages import require

__all__ = ["ReadStateBook", "read_state"]

log = structlog.get_logger(__name__)

Key = tuple[int, int]  # (user id, channel id)


def read_state(row: ReadStateRow) -> ReadState:
    return ReadState(
        channel_id=row.channel_id,
        last_read_id=Snowflake(row.last_read_id) if row.last_read_id else None,
        last_message_id=Snowflake(row.last_message_id) if row.last_message_id else None,
        unread=row.last_message_id > row.last_read_id and not row.muted and row.level != "nothing",
        mention_count=row.mention_count,
        level=row.level,
        muted=row.muted,
    )


class ReadStateBook:
    def __init__(self, platform: Platform, access: AccessCache, coalesce_seconds: float) -> None:
        self._platform = platform
        self._access = access
        self._window = coalesce_seconds
        self._last_write: dict[Key, float] = {}
        self._pending: dict[Key, tuple[int, ChannelAccess]] = {}
        self._flushes: dict[Key, asyncio.Task[None]] = {}

    async def _roles(self, user_id: int, access: ChannelAccess) -> list[tuple[int, int]]:
        """The user's roles in the channel's server, as (server id, role id): role mentions."""
        if access.is_direct:
            return []
        server = await self._access.server(user_id, access.server_id)
        return [(int(access.server_id), g.id) for g in server.member_roles]

    async def _state(
        self, user_id: int, access: ChannelAccess, read_override: int = 0
    ) -> ReadState:
        roles = await self._roles(user_id, access)
        channel = int(access.channel_id)
        async with self._platform.pool.acquire() as conn:
            rows = await store.states(
                conn, user_id, [(channel, int(access.server_id))], roles, {channel: read_override}
            )
        if rows:
            return read_state(rows[0])
        return ReadState(channel_id=access.channel_id, unread=False, mention_count=0)

    async def ack(self, user_id: int, channel_id: int, message_id: int) -> ReadState:
        access = await self._access.channel(user_id, channel_id)
        require(access, Permission.READ_MESSAGE_HISTORY)
        async with self._platform.pool.acquire() as conn:
            message = await messages_store.get(conn, message_id)
        if message is None or message.channel_id != channel_id:
            raise NotFound("unknown message", code="unknown_message")
        key = (user_id, channel_id)
        now = time.monotonic()
        if key in self._pending or now - self._last_write.get(key, -1e9) < self._window:
            earlier, _ = self._pending.get(key, (0, access))
            self._pending[key] = (max(earlier, message_id), access)
            if key not in self._flushes:
                delay = self._last_write.get(key, now) + self._window - now
                self._flushes[key] = asyncio.create_task(self._flush_later(key, delay))
            return await self._state(user_id, access, self._pending[key][0])
        self._remember_write(key, now)
        await self._write(user_id, access, message_id)
        return await self._state(user_id, access)

    def _remember_write(self, key: Key, now: float) -> None:
        self._last_write[key] = now
        if len(self._last_write) > 10_000:  # forget windows long closed
            self._last_write = {k: t for k, t in self._last_write.items() if now - t < self._window}

    async def _flush_later(self, key: Key, delay: float) -> None:
        try:
            await asyncio.sleep(max(delay, 0.0))
            await self._flush(key)
        except Exception:
            log.exception("read_states.flush_failed", user_id=key[0], channel_id=key[1])
        finally:
            self._flushes.pop(key, None)

    async def _flush(self, key: Key) -> None:
        pending = self._pending.pop(key, None)
        if pending is not None:
            self._remember_write(key, time.monotonic())
            await self._write(key[0], pending[1], pending[0])

    async def _write(self, user_id: int, access: ChannelAccess, message_id: int) -> None:
        roles = await self._roles(user_id, access)
        channel = int(access.channel_id)
        async with unit_of_work(self._platform) as tx:
            if not await store.advance(tx.conn, user_id, channel, message_id):
                return  # older than what was read already: nothing moves, nobody is told
            rows = await store.states(tx.conn, user_id, [(channel, int(access.server_id))], roles)
            await tx.emit_user(
                user_id,
                ChannelAcked(
                    user_id=Snowflake(user_id),
                    channel_id=access.channel_id,
                    message_id=Snowflake(message_id),
                    mention_count=rows[0].mention_count if rows else 0,
                ),
            )

    async def close(self) -> None:
        """Write what is pending now (shutdown): an ack answered is not lost."""
        for task in list(self._flushes.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for key in list(self._pending):
            await self._flush(key)

    async def states(self, question: ReadStatesRequest) -> ReadStates:
        """The gateway's READY question: every channel it names, with the user's roles."""
        channels = [(int(c), int(s.server_id)) for s in question.servers for c in s.channel_ids] + [
            (int(c), int(c)) for c in question.dm_channel_ids
        ]
        roles = [(int(s.server_id), int(r)) for s in question.servers for r in s.role_ids]
        async with self._platform.pool.acquire() as conn:
            rows = await store.states(conn, question.user_id, channels, roles)
        return ReadStates(states=[read_state(r) for r in rows])

    # -- notification settings ----------------------------------------------------------

    async def _scope(self, user_id: int, scope_id: int) -> None:
        """The scope must be a server the user is in, or a channel (or DM) they can see."""
        try:
            await self._access.server(user_id, scope_id)
        except ApiError as exc:
            if exc.status_code != 404:
                raise
            try:
                await self._access.channel(user_id, scope_id)
            except ApiError as again:
                if again.status_code != 404:
                    raise
                raise NotFound("unknown server or channel", code="unknown_scope") from None

    async def settings(self, user_id: int) -> list[NotificationSettingRow]:
        async with self._platform.pool.acquire() as conn:
            return await store.notification_settings(conn, user_id)

    async def set_setting(
        self, user_id: int, scope_id: int, level: str | None, muted_until: datetime | None
    ) -> None:
        if muted_until is not None and muted_until.tzinfo is None:
            raise BadRequest.for_field("muted_until", "give a time zone (e.g. Z)")
        await self._scope(user_id, scope_id)
        async with unit_of_work(self._platform) as tx:
            await store.set_notification_setting(tx.conn, user_id, scope_id, level, muted_until)
            await tx.emit_user(
                user_id,
                NotificationSettingsUpdated(
                    user_id=Snowflake(user_id),
                    scope_id=Snowflake(scope_id),
                    level=level,
                    muted_until=muted_until,
                ),
            )
