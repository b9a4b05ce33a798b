"""Bots installed in servers, as the bots service asks (``harmoniq_common.installations``).

An installed bot is a member with one managed role (named after it, just above the default
role) holding exactly its grant. Installing, changing the grant and uninstalling need
``MANAGE_SERVER``, and nobody grants a bit they lack (the owner excepted), as for roles. Each
change is in the audit log (``bot.add``, ``bot.update``, ``bot.remove``) and announced by
the role and member events of the same transaction.
"""

from __future__ import annotations

from harmoniq_common.errors import BadRequest, Conflict, Forbidden, NotFound
from harmoniq_common.events import MemberJoined, RoleCreated, RoleUpdated
from harmoniq_common.installations import (
    InstallBot,
    InstalledBot,
    InstalledBots,
    ListBots,
    RegrantBot,
    UninstallBot,
    Uninstalled,
)
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform

from ..settings import GuildsSettings
from ..store import installs, members, roles
from ..store.rows import MemberRow, RoleRow
from . import audit
from .access import ServerAccess, load_access
from .changes import guild_change
from .members import remove_member
from .views import member_view, role_view

__all__ = ["Installs"]

_EVERY_PERMISSION = (1 << 63) - 1


def _installed(member: MemberRow, role: RoleRow) -> InstalledBot:
    return InstalledBot(
        server_id=member.server_id,
        bot_id=member.user_id,
        username=member.username,
        role_id=role.id,
        permissions=role.permissions,
        joined_at=member.joined_at,
    )


def unknown_installation() -> NotFound:
    return NotFound("this bot is not installed in the server", code="unknown_installation")


class Installs:
    def __init__(self, platform: Platform, settings: GuildsSettings) -> None:
        self._platform = platform
        self._settings = settings

    @staticmethod
    def _may_grant(access: ServerAccess, permissions: int, already: int = 0) -> None:
        access.require(Permission.MANAGE_SERVER)
        if permissions < 0 or permissions & ~_EVERY_PERMISSION:
            raise BadRequest.for_field("permissions", "not a permission set")
        if not access.is_owner and permissions & ~already & ~access.permissions:
            raise Forbidden(
                "you cannot grant permissions you do not have", code="permission_escalation"
            )

    async def install(self, ask: InstallBot) -> InstalledBot:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, ask.server_id, ask.actor_id)
            self._may_grant(access, ask.permissions)
            if await members.is_banned(tx.conn, ask.server_id, ask.bot_id):
                raise Forbidden("this bot is banned from the server", code="banned")
            if len(access.roles) >= self._settings.max_roles_per_server:
                raise BadRequest("this server has too many roles", code="too_many_roles")
            await installs.remember_user(tx.conn, ask.bot_id, ask.username)
            if not await members.add(tx.conn, ask.server_id, ask.bot_id, temporary=False):
                raise Conflict("this bot is already in the server", code="already_installed")
            role = await roles.insert(
                tx.conn,
                self._platform.new_id(),
                ask.server_id,
                ask.username,
                ask.permissions,
                1,
                managed_by=ask.bot_id,
            )
            await members.add_role(tx.conn, ask.server_id, ask.bot_id, role.id)
            member = await members.get(tx.conn, ask.server_id, ask.bot_id)
            assert member is not None
            await tx.emit_server(ask.server_id, RoleCreated(role=role_view(role)))
            joined = MemberJoined(
                member=member_view(member),
                member_count=await members.count_in_turn(tx.conn, ask.server_id),
            )
            await tx.emit_server(ask.server_id, joined)
            await tx.emit_user(ask.bot_id, joined)  # the bot's gateway follows the server
            await audit.record(
                tx,
                ask.server_id,
                ask.actor_id,
                "bot.add",
                target_id=ask.bot_id,
                reason=ask.reason,
                changes={"permissions": ask.permissions, "role_id": str(role.id)},
            )
        return _installed(member, role)

    async def regrant(self, ask: RegrantBot) -> InstalledBot:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, ask.server_id, ask.actor_id)
            access.require(Permission.MANAGE_SERVER)
            role = await roles.managed(tx.conn, ask.server_id, ask.bot_id)
            member = await members.get(tx.conn, ask.server_id, ask.bot_id)
            if role is None or member is None:
                raise unknown_installation()
            self._may_grant(access, ask.permissions, already=role.permissions)
            updated = await roles.update(
                tx.conn, role.id, name=None, permissions=ask.permissions, position=None, color=None
            )
            await tx.emit_server(ask.server_id, RoleUpdated(role=role_view(updated)))
            await audit.record(
                tx,
                ask.server_id,
                ask.actor_id,
                "bot.update",
                target_id=ask.bot_id,
                reason=ask.reason,
                changes={"permissions": ask.permissions, "previous": role.permissions},
            )
        return _installed(member, updated)

    async def uninstall(self, ask: UninstallBot) -> Uninstalled:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, ask.server_id, ask.actor_id)
            access.require(Permission.MANAGE_SERVER)
            if await roles.managed(tx.conn, ask.server_id, ask.bot_id) is None:
                raise unknown_installation()
            # remove_member takes the managed role with it (and announces both).
            await remove_member(tx, self._platform, ask.server_id, ask.bot_id, "bot_removed")
            await audit.record(
                tx,
                ask.server_id,
                ask.actor_id,
                "bot.remove",
                target_id=ask.bot_id,
                reason=ask.reason,
            )
        return Uninstalled(server_id=ask.server_id, bot_id=ask.bot_id)

    async def list_all(self, ask: ListBots) -> InstalledBots:
        async with self._platform.pool.acquire() as conn:
            access = await load_access(conn, ask.server_id, ask.actor_id)
            access.require(Permission.MANAGE_SERVER)
            managed = {
                int(r.managed_by): r
                for r in await roles.managed_in(conn, ask.server_id)
                if r.managed_by
            }
            found = await members.get_many(conn, ask.server_id, list(managed))
        return InstalledBots(bots=[_installed(m, managed[int(m.user_id)]) for m in found])
