"""Members: list, read, nickname; and moderation: kick, ban, unban, list bans."""

from __future__ import annotations

from harmoniq_common.errors import BadRequest, Forbidden, NotFound
from harmoniq_common.events import BanAdded, BanRemoved, MemberLeft, MemberUpdated, RoleDeleted
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..store import members, roles
from ..store.rows import MemberRow
from . import audit
from .access import load_access
from .changes import guild_change
from .views import member_view

__all__ = ["Members", "remove_member"]


async def remove_member(
    tx: UnitOfWork, platform: Platform, server_id: int, user_id: int, reason: str
) -> bool:
    """Remove a member and announce it (``member.left`` with the count without them); False
    if they were not one. Every way out of a server (leave, kick, ban, account deletion)."""
    if not await members.remove(tx.conn, server_id, user_id):
        return False
    # An installed bot's managed role goes with it (kicked, banned, its account deleted).
    managed_role = await roles.delete_managed(tx.conn, server_id, user_id)
    if managed_role is not None:
        await tx.emit_server(
            server_id, RoleDeleted(server_id=Snowflake(server_id), role_id=Snowflake(managed_role))
        )
    await tx.emit_server(
        server_id,
        MemberLeft(
            server_id=Snowflake(server_id),
            user_id=Snowflake(user_id),
            reason=reason,
            member_count=await members.count_in_turn(tx.conn, server_id),
        ),
    )
    return True


class Members:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def list_all(
        self, server_id: int, user_id: Snowflake, after: int, limit: int
    ) -> list[MemberRow]:
        async with self._platform.pool.acquire() as conn:
            await load_access(conn, server_id, user_id)
            return await members.list_page(conn, server_id, after, limit)

    async def get(self, server_id: int, user_id: Snowflake, member_id: int) -> MemberRow:
        async with self._platform.pool.acquire() as conn:
            await load_access(conn, server_id, user_id)
            member = await members.get(conn, server_id, member_id)
        if member is None:
            raise NotFound("unknown member", code="unknown_member")
        return member

    async def set_nickname(
        self,
        server_id: int,
        user_id: Snowflake,
        member_id: Snowflake,
        nickname: str | None,
        reason: str | None,
    ) -> MemberRow:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            target = await members.get(tx.conn, server_id, member_id)
            if target is None:
                raise NotFound("unknown member", code="unknown_member")
            if member_id == user_id:
                access.require(Permission.CHANGE_NICKNAME)
            else:
                access.require(Permission.MANAGE_NICKNAMES)
                access.require_outranks(target, "renamed")
            await members.set_nickname(tx.conn, server_id, member_id, nickname)
            updated = await members.get(tx.conn, server_id, member_id)
            assert updated is not None
            await tx.emit_server(server_id, MemberUpdated(member=member_view(updated)))
            await audit.record(
                tx,
                server_id,
                user_id,
                "member.nickname",
                target_id=member_id,
                reason=reason,
                changes={"nickname": nickname},
            )
        return updated

    async def kick(
        self, server_id: int, user_id: Snowflake, member_id: Snowflake, reason: str | None
    ) -> None:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            access.require(Permission.KICK_MEMBERS)
            if member_id == user_id:
                raise BadRequest(
                    "leave the server instead of kicking yourself", code="cannot_kick_self"
                )
            target = await members.get(tx.conn, server_id, member_id)
            if target is None:
                raise NotFound("unknown member", code="unknown_member")
            access.require_outranks(target, "kicked")
            await remove_member(tx, self._platform, server_id, member_id, "kicked")
            await audit.record(
                tx, server_id, user_id, "member.kick", target_id=member_id, reason=reason
            )

    async def ban(
        self,
        server_id: int,
        user_id: Snowflake,
        target_id: Snowflake,
        reason: str | None,
        delete_messages_seconds: int,
    ) -> None:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            access.require(Permission.BAN_MEMBERS)
            if target_id == user_id:
                raise BadRequest("you cannot ban yourself", code="cannot_ban_self")
            target = await members.get(tx.conn, server_id, target_id)
            if target is not None:
                access.require_outranks(target, "banned")
            elif target_id == access.server.owner_id:
                raise Forbidden("the owner cannot be banned", code="role_hierarchy")
            await members.ban(tx.conn, server_id, target_id, reason, user_id)
            await remove_member(tx, self._platform, server_id, target_id, "banned")
            banned = BanAdded(
                server_id=Snowflake(server_id),
                user_id=target_id,
                reason=reason,
                delete_messages_seconds=delete_messages_seconds,
            )
            await tx.emit_server(server_id, banned)
            # Also to the banned user (as member.joined goes to the joiner): after member.left
            # their sessions no longer follow the server, and a ban in advance never did.
            await tx.emit_user(target_id, banned)
            await audit.record(
                tx,
                server_id,
                user_id,
                "member.ban",
                target_id=target_id,
                reason=reason,
                changes={"delete_messages_seconds": delete_messages_seconds},
            )

    async def unban(
        self, server_id: int, user_id: Snowflake, target_id: Snowflake, reason: str | None
    ) -> None:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            access.require(Permission.BAN_MEMBERS)
            if not await members.unban(tx.conn, server_id, target_id):
                raise NotFound("that user is not banned", code="unknown_ban")
            await tx.emit_server(
                server_id, BanRemoved(server_id=Snowflake(server_id), user_id=target_id)
            )
            await audit.record(
                tx, server_id, user_id, "member.unban", target_id=target_id, reason=reason
            )

    async def bans(
        self, server_id: int, user_id: Snowflake, after: int, limit: int
    ) -> list[dict[str, object]]:
        async with self._platform.pool.acquire() as conn:
            access = await load_access(conn, server_id, user_id)
            access.require(Permission.BAN_MEMBERS)
            return [dict(r) for r in await members.list_bans(conn, server_id, after, limit)]
