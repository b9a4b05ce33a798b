"""Invites: create, preview without joining, list, revoke, and join by code."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harmoniq_common.errors import BadRequest, Forbidden, NotFound
from harmoniq_common.events import InviteCreated, InviteDeleted, MemberJoined
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform

from ..settings import GuildsSettings
from ..store import channels, invites, members, servers
from ..store.rows import InviteRow, ServerRow
from . import audit
from .access import channel_with_overwrites, load_access
from .changes import guild_change
from .views import member_view

__all__ = ["InvitePreview", "Invites", "new_code"]

_ALPHABET = string.ascii_letters + string.digits


def new_code() -> str:
    """12 characters of base62 from the OS's CSPRNG: ~71 bits, not worth guessing."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


@dataclass(frozen=True)
class InvitePreview:
    invite: InviteRow
    server: ServerRow
    channel_name: str | None
    member_count: int


def _live(invite: InviteRow | None) -> InviteRow:
    now = datetime.now(UTC)
    if (
        invite is None
        or invite.revoked_at is not None
        or (invite.expires_at is not None and invite.expires_at <= now)
        or (invite.max_uses is not None and invite.uses >= invite.max_uses)
    ):
        raise NotFound("unknown or expired invite", code="unknown_invite")
    return invite


class Invites:
    def __init__(self, platform: Platform, settings: GuildsSettings) -> None:
        self._platform = platform
        self._settings = settings

    async def create(
        self,
        channel_id: int,
        user_id: Snowflake,
        max_uses: int | None,
        max_age_seconds: int | None,
        temporary: bool,
        reason: str | None,
    ) -> InviteRow:
        async with guild_change(self._platform) as tx:
            channel, overwrites = await channel_with_overwrites(tx.conn, channel_id)
            try:
                access = await load_access(tx.conn, channel.server_id, user_id)
            except NotFound:
                raise NotFound("unknown channel", code="unknown_channel") from None
            if not access.explain(channel, overwrites).permissions & Permission.VIEW_CHANNEL:
                raise NotFound("unknown channel", code="unknown_channel")
            access.require(Permission.CREATE_INVITES, channel=channel, overwrites=overwrites)
            expires = (
                datetime.now(UTC) + timedelta(seconds=max_age_seconds) if max_age_seconds else None
            )
            invite = await invites.insert(
                tx.conn,
                new_code(),
                channel.server_id,
                channel.id,
                user_id,
                max_uses,
                expires,
                temporary,
            )
            await tx.emit_server(
                channel.server_id,
                InviteCreated(
                    server_id=channel.server_id,
                    code=invite.code,
                    channel_id=invite.channel_id,
                    creator_id=user_id,
                    max_uses=max_uses,
                    expires_at=expires,
                    temporary=temporary,
                ),
            )
            await audit.record(
                tx,
                channel.server_id,
                user_id,
                "invite.create",
                reason=reason,
                changes={
                    "code": invite.code,
                    "max_uses": max_uses,
                    "max_age_seconds": max_age_seconds,
                },
            )
        return invite

    async def preview(self, code: str) -> InvitePreview:
        async with self._platform.pool.acquire() as conn:
            invite = _live(await invites.get(conn, code))
            server = await servers.get(conn, invite.server_id)
            assert server is not None
            channel = await channels.get(conn, invite.channel_id) if invite.channel_id else None
            count = await members.count(conn, server.id)
        return InvitePreview(invite, server, channel.name if channel else None, count)

    async def list_all(self, server_id: int, user_id: Snowflake) -> list[InviteRow]:
        async with self._platform.pool.acquire() as conn:
            access = await load_access(conn, server_id, user_id)
            access.require(Permission.MANAGE_SERVER)
            return await invites.list_for_server(conn, server_id)

    async def revoke(self, code: str, user_id: Snowflake, reason: str | None) -> None:
        async with guild_change(self._platform) as tx:
            invite = await invites.get(tx.conn, code)
            if invite is None or invite.revoked_at is not None:
                raise NotFound("unknown invite", code="unknown_invite")
            try:
                access = await load_access(tx.conn, invite.server_id, user_id)
            except NotFound:
                raise NotFound("unknown invite", code="unknown_invite") from None
            if invite.creator_id != user_id:
                access.require(Permission.MANAGE_SERVER)
            await invites.revoke(tx.conn, code)
            await tx.emit_server(
                invite.server_id, InviteDeleted(server_id=invite.server_id, code=code)
            )
            await audit.record(
                tx,
                invite.server_id,
                user_id,
                "invite.delete",
                reason=reason,
                changes={"code": code},
            )

    async def join(self, code: str, user_id: Snowflake) -> ServerRow:
        """Join with an invite; joining again is harmless; a banned user never gets in."""
        async with guild_change(self._platform) as tx:
            invite = _live(await invites.get(tx.conn, code))
            server = await servers.get(tx.conn, invite.server_id)
            assert server is not None
            if await members.is_banned(tx.conn, server.id, user_id):
                raise Forbidden("you are banned from this server", code="banned")
            if await members.get(tx.conn, server.id, user_id) is not None:
                return server
            if (
                await servers.count_memberships(tx.conn, user_id)
                >= self._settings.max_servers_per_user
            ):
                raise BadRequest("you are in too many servers", code="too_many_servers")
            # Membership first, then the use: a concurrent join of the same user waits on the
            # membership row and then adds nothing, so it neither takes a use nor announces twice.
            if not await members.add(tx.conn, server.id, user_id, temporary=invite.temporary):
                return server
            if await invites.consume(tx.conn, code) is None:  # lost a race for the last use
                raise NotFound("unknown or expired invite", code="unknown_invite")
            member = await members.get(tx.conn, server.id, user_id)
            assert member is not None
            joined = MemberJoined(
                member=member_view(member),
                member_count=await members.count_in_turn(tx.conn, server.id),
            )
            await tx.emit_server(server.id, joined)
            # Also to the joiner, after the server's copy: their gateway sessions start
            # following the server from this event on.
            await tx.emit_user(user_id, joined)
            await audit.record(
                tx, server.id, user_id, "member.join", target_id=user_id, changes={"invite": code}
            )
        return server
