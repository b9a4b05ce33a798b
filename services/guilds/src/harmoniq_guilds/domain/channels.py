"""Channels: create, list what the caller can see, read, update, delete, reorder; overwrites;
and the step-by-step explanation of a member's permissions in a channel."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from harmoniq_common.errors import BadRequest, NotFound
from harmoniq_common.events import ChannelCreated, ChannelDeleted, ChannelUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Explanation, Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..settings import GuildsSettings
from ..store import channels, members
from ..store.rows import ChannelRow, OverwriteRow
from . import audit
from .access import ServerAccess, channel_with_overwrites, load_access
from .changes import guild_change
from .views import channel_view

__all__ = ["ChannelChange", "Channels"]


@dataclass(frozen=True)
class ChannelChange:
    name: str | None = None
    topic: str | None = None
    clear_topic: bool = False
    parent_id: Snowflake | None = None
    clear_parent: bool = False
    user_limit: int | None = None  # voice channels only
    bitrate: int | None = None  # voice channels only


def _voice_only(kind: str, user_limit: int | None, bitrate: int | None) -> None:
    for field, value in (("user_limit", user_limit), ("bitrate", bitrate)):
        if value is not None and kind != "voice":
            raise BadRequest.for_field(field, "only voice channels have one")


def _visible(access: ServerAccess, channel: ChannelRow, overwrites: list[OverwriteRow]) -> bool:
    mine = [o for o in overwrites if o.channel_id == channel.id]
    return bool(access.explain(channel, mine).permissions & Permission.VIEW_CHANNEL)


class Channels:
    def __init__(self, platform: Platform, settings: GuildsSettings) -> None:
        self._platform = platform
        self._settings = settings

    async def _emit_updated(self, tx: UnitOfWork, channel_id: int) -> ChannelRow:
        channel, overwrites = await channel_with_overwrites(tx.conn, channel_id)
        await tx.emit_server(
            channel.server_id, ChannelUpdated(channel=channel_view(channel, overwrites))
        )
        return channel

    async def _parent(self, tx: UnitOfWork, server_id: int, parent_id: int | None) -> None:
        if parent_id is None:
            return
        parent = await channels.get(tx.conn, parent_id)
        if parent is None or parent.server_id != server_id or parent.kind != "category":
            raise BadRequest.for_field("parent_id", "must be a category of this server")

    async def create(
        self,
        server_id: int,
        user_id: Snowflake,
        kind: str,
        name: str,
        topic: str | None,
        parent_id: Snowflake | None,
        reason: str | None,
        *,
        user_limit: int | None = None,
        bitrate: int | None = None,
    ) -> tuple[ChannelRow, list[OverwriteRow]]:
        _voice_only(kind, user_limit, bitrate)
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            access.require(Permission.MANAGE_CHANNELS)
            count = await channels.count(tx.conn, server_id)
            if count >= self._settings.max_channels_per_server:
                raise BadRequest("this server has too many channels", code="too_many_channels")
            if kind == "category" and parent_id is not None:
                raise BadRequest.for_field("parent_id", "a category cannot have a parent")
            await self._parent(tx, server_id, parent_id)
            channel = await channels.insert(
                tx.conn, self._platform.new_id(), server_id, kind, name, topic, count, parent_id
            )
            if user_limit is not None or bitrate is not None:
                await channels.set_voice(
                    tx.conn, channel.id, user_limit=user_limit, bitrate=bitrate
                )
                channel = msgspec.structs.replace(
                    channel,
                    user_limit=channel.user_limit if user_limit is None else user_limit,
                    bitrate=channel.bitrate if bitrate is None else bitrate,
                )
            await tx.emit_server(server_id, ChannelCreated(channel=channel_view(channel, [])))
            await audit.record(
                tx,
                server_id,
                user_id,
                "channel.create",
                target_id=channel.id,
                reason=reason,
                changes={"name": name, "kind": kind},
            )
        return channel, []

    async def list_visible(
        self, server_id: int, user_id: Snowflake
    ) -> list[tuple[ChannelRow, list[OverwriteRow]]]:
        async with self._platform.pool.acquire() as conn:
            access = await load_access(conn, server_id, user_id)
            rows = await channels.list_for_server(conn, server_id)
            overwrites = await channels.overwrites_for(conn, [c.id for c in rows])
        return [
            (c, [o for o in overwrites if o.channel_id == c.id])
            for c in rows
            if _visible(access, c, overwrites)
        ]

    async def get(
        self, channel_id: int, user_id: Snowflake
    ) -> tuple[ChannelRow, list[OverwriteRow], int]:
        """The channel and the caller's permissions in it; 404 unless they can view it."""
        async with self._platform.pool.acquire() as conn:
            channel, overwrites = await channel_with_overwrites(conn, channel_id)
            try:
                access = await load_access(conn, channel.server_id, user_id)
            except NotFound:
                raise NotFound("unknown channel", code="unknown_channel") from None
        permissions = access.explain(channel, overwrites).permissions
        if not permissions & Permission.VIEW_CHANNEL:
            raise NotFound("unknown channel", code="unknown_channel")
        return channel, overwrites, permissions

    @staticmethod
    async def _visible_channel(
        tx: UnitOfWork, channel_id: int, user_id: Snowflake
    ) -> tuple[ServerAccess, ChannelRow, list[OverwriteRow]]:
        """The channel and the caller's standing; 404 unless they can view it."""
        channel, overwrites = await channel_with_overwrites(tx.conn, channel_id)
        try:
            access = await load_access(tx.conn, channel.server_id, user_id)
        except NotFound:
            raise NotFound("unknown channel", code="unknown_channel") from None
        if not _visible(access, channel, overwrites):
            raise NotFound("unknown channel", code="unknown_channel")
        return access, channel, overwrites

    async def _manage(
        self, tx: UnitOfWork, channel_id: int, user_id: Snowflake
    ) -> tuple[ServerAccess, ChannelRow, list[OverwriteRow]]:
        access, channel, overwrites = await self._visible_channel(tx, channel_id, user_id)
        access.require(Permission.MANAGE_CHANNELS, channel=channel, overwrites=overwrites)
        return access, channel, overwrites

    async def update(
        self, channel_id: int, user_id: Snowflake, change: ChannelChange, reason: str | None
    ) -> ChannelRow:
        async with guild_change(self._platform) as tx:
            _, channel, _ = await self._manage(tx, channel_id, user_id)
            if change.parent_id is not None and channel.kind == "category":
                raise BadRequest.for_field("parent_id", "a category cannot have a parent")
            _voice_only(channel.kind, change.user_limit, change.bitrate)
            await self._parent(tx, channel.server_id, change.parent_id)
            if change.user_limit is not None or change.bitrate is not None:
                await channels.set_voice(
                    tx.conn, channel_id, user_limit=change.user_limit, bitrate=change.bitrate
                )
            await channels.update(
                tx.conn,
                channel_id,
                name=change.name,
                topic=change.topic,
                clear_topic=change.clear_topic,
                parent_id=change.parent_id,
                clear_parent=change.clear_parent,
            )
            updated = await self._emit_updated(tx, channel_id)
            await audit.record(
                tx,
                channel.server_id,
                user_id,
                "channel.update",
                target_id=channel_id,
                reason=reason,
                changes={k: v for k, v in vars(change).items() if v not in (None, False)},
            )
        return updated

    async def delete(self, channel_id: int, user_id: Snowflake, reason: str | None) -> None:
        async with guild_change(self._platform) as tx:
            _, channel, _ = await self._manage(tx, channel_id, user_id)
            children = [
                c.id
                for c in await channels.list_for_server(tx.conn, channel.server_id)
                if c.parent_id == channel_id
            ]
            await channels.delete(tx.conn, channel_id)
            await tx.emit_server(
                channel.server_id,
                ChannelDeleted(server_id=channel.server_id, channel_id=channel.id),
            )
            # A deleted category's channels stay, without a parent (ON DELETE SET NULL).
            for child in children:
                await self._emit_updated(tx, child)
            await audit.record(
                tx,
                channel.server_id,
                user_id,
                "channel.delete",
                target_id=channel_id,
                reason=reason,
                changes={"name": channel.name},
            )

    async def reorder(
        self,
        server_id: int,
        user_id: Snowflake,
        positions: list[tuple[Snowflake, int]],
        reason: str | None,
    ) -> None:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            access.require(Permission.MANAGE_CHANNELS)
            known = {c.id for c in await channels.list_for_server(tx.conn, server_id)}
            unknown = [str(cid) for cid, _ in positions if cid not in known]
            if unknown:
                raise BadRequest.for_field("channels", f"not channels of this server: {unknown}")
            for channel_id, position in positions:
                await channels.set_position(tx.conn, channel_id, position)
                await self._emit_updated(tx, channel_id)
            await audit.record(
                tx,
                server_id,
                user_id,
                "channel.reorder",
                reason=reason,
                changes={str(c): p for c, p in positions},
            )

    @staticmethod
    async def _check_overwrite(
        tx: UnitOfWork,
        access: ServerAccess,
        channel: ChannelRow,
        overwrites: list[OverwriteRow],
        target_kind: str,
        target_id: Snowflake,
        bits: int,
    ) -> None:
        """Who may write (or remove) an overwrite: MANAGE_ROLES in the channel; a role below
        the caller's highest, or a member they outrank (or themselves); and only bits the
        caller holds in this very channel, so that no overwrite hands out more than they have.
        """
        access.require(Permission.MANAGE_ROLES, channel=channel, overwrites=overwrites)
        if target_kind == "role":
            role = access.roles.get(target_id)
            if role is None:
                raise BadRequest.for_field("target_id", "not a role of this server")
            if role.id != channel.server_id:
                access.require_above(role.position, "that role")
        else:
            member = await members.get(tx.conn, channel.server_id, target_id)
            if member is None:
                raise BadRequest.for_field("target_id", "not a member of this server")
            if member.user_id != access.user_id:
                access.require_outranks(member, "restricted")
        held = access.explain(channel, overwrites).permissions
        if not access.is_owner and bits & ~held:
            raise BadRequest(
                "you cannot allow or deny permissions you do not have in this channel",
                code="permission_escalation",
            )

    async def set_overwrite(
        self,
        channel_id: int,
        user_id: Snowflake,
        target_kind: str,
        target_id: Snowflake,
        allow: int,
        deny: int,
        reason: str | None,
    ) -> ChannelRow:
        if allow & deny:
            raise BadRequest.for_field("deny", "a permission cannot be both allowed and denied")
        async with guild_change(self._platform) as tx:
            access, channel, overwrites = await self._visible_channel(tx, channel_id, user_id)
            await Channels._check_overwrite(
                tx, access, channel, overwrites, target_kind, target_id, allow | deny
            )
            await channels.set_overwrite(tx.conn, channel_id, target_kind, target_id, allow, deny)
            updated = await self._emit_updated(tx, channel_id)
            await audit.record(
                tx,
                channel.server_id,
                user_id,
                "channel.overwrite_set",
                target_id=target_id,
                reason=reason,
                changes={
                    "channel_id": str(channel_id),
                    "target_kind": target_kind,
                    "allow": allow,
                    "deny": deny,
                },
            )
        return updated

    async def delete_overwrite(
        self, channel_id: int, user_id: Snowflake, target_id: Snowflake, reason: str | None
    ) -> ChannelRow:
        async with guild_change(self._platform) as tx:
            access, channel, overwrites = await self._visible_channel(tx, channel_id, user_id)
            matching = [o for o in overwrites if o.target_id == target_id]
            if not matching:
                raise NotFound("no overwrite for that target", code="unknown_overwrite")
            overwrite = matching[0]
            await Channels._check_overwrite(
                tx,
                access,
                channel,
                overwrites,
                overwrite.target_kind,
                target_id,
                overwrite.allow_bits | overwrite.deny_bits,
            )
            await channels.delete_overwrite(tx.conn, channel_id, overwrite.target_kind, target_id)
            updated = await self._emit_updated(tx, channel_id)
            await audit.record(
                tx,
                channel.server_id,
                user_id,
                "channel.overwrite_delete",
                target_id=target_id,
                reason=reason,
                changes={"channel_id": str(channel_id), "target_kind": overwrite.target_kind},
            )
        return updated

    async def explain(
        self, channel_id: int, user_id: Snowflake, subject_id: Snowflake
    ) -> Explanation:
        """How ``subject_id``'s permissions in the channel come about (MANAGE_ROLES, or self)."""
        async with self._platform.pool.acquire() as conn:
            channel, overwrites = await channel_with_overwrites(conn, channel_id)
            try:
                caller = await load_access(conn, channel.server_id, user_id)
            except NotFound:
                raise NotFound("unknown channel", code="unknown_channel") from None
            # A channel the caller cannot see does not exist for them, explained or not.
            if not _visible(caller, channel, overwrites):
                raise NotFound("unknown channel", code="unknown_channel")
            if subject_id != user_id:
                caller.require(Permission.MANAGE_ROLES)
            try:
                subject = await load_access(conn, channel.server_id, subject_id)
            except NotFound:
                raise NotFound("that user is not a member", code="unknown_member") from None
        return subject.explain(channel, overwrites)
