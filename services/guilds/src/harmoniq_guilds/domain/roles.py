"""Roles: create, list, update, delete, assign; the hierarchy and no privilege escalation."""

from __future__ import annotations

from harmoniq_common.errors import BadRequest, Forbidden, NotFound
from harmoniq_common.events import MemberUpdated, RoleCreated, RoleDeleted, RoleUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..settings import GuildsSettings
from ..store import members, roles
from ..store.rows import RoleRow
from . import audit
from .access import ServerAccess, load_access
from .changes import guild_change
from .views import member_view, role_view

__all__ = ["Roles"]


class Roles:
    def __init__(self, platform: Platform, settings: GuildsSettings) -> None:
        self._platform = platform
        self._settings = settings

    @staticmethod
    def _no_escalation(access: ServerAccess, permissions: int, already: int = 0) -> None:
        """Nobody hands out a permission they lack; bits a role already has may stay (or go)."""
        if not access.is_owner and permissions & ~already & ~access.permissions:
            raise BadRequest(
                "you cannot grant permissions you do not have", code="permission_escalation"
            )

    async def list_all(self, server_id: int, user_id: Snowflake) -> list[RoleRow]:
        async with self._platform.pool.acquire() as conn:
            access = await load_access(conn, server_id, user_id)
        return sorted(access.roles.values(), key=lambda r: (-r.position, r.id))

    async def create(
        self,
        server_id: int,
        user_id: Snowflake,
        name: str,
        permissions: int,
        color: int,
        reason: str | None,
    ) -> RoleRow:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            access.require(Permission.MANAGE_ROLES)
            self._no_escalation(access, permissions)
            if len(access.roles) >= self._settings.max_roles_per_server:
                raise BadRequest("this server has too many roles", code="too_many_roles")
            # A new role starts just above the default role, below everything else.
            role = await roles.insert(
                tx.conn, self._platform.new_id(), server_id, name, permissions, 1, color
            )
            await tx.emit_server(server_id, RoleCreated(role=role_view(role)))
            await audit.record(
                tx,
                server_id,
                user_id,
                "role.create",
                target_id=role.id,
                reason=reason,
                changes={"name": name, "permissions": permissions},
            )
        return role

    async def _managed_role(
        self, tx: UnitOfWork, server_id: int, user_id: Snowflake, role_id: Snowflake
    ) -> tuple[ServerAccess, RoleRow]:
        access = await load_access(tx.conn, server_id, user_id)
        access.require(Permission.MANAGE_ROLES)
        role = access.roles.get(role_id)
        if role is None:
            raise NotFound("unknown role", code="unknown_role")
        if role.managed_by is not None:
            # An installed bot's role: only its installation (/servers/{id}/bots) changes it.
            raise Forbidden(
                "this role is managed by an installed bot; change the bot's installation instead",
                code="managed_role",
            )
        if role.id != server_id:
            access.require_above(role.position, "that role")
        return access, role

    async def update(
        self,
        server_id: int,
        user_id: Snowflake,
        role_id: Snowflake,
        *,
        name: str | None,
        permissions: int | None,
        position: int | None,
        color: int | None,
        reason: str | None,
    ) -> RoleRow:
        async with guild_change(self._platform) as tx:
            access, role = await self._managed_role(tx, server_id, user_id, role_id)
            if permissions is not None:
                self._no_escalation(access, permissions, already=role.permissions)
            if position is not None:
                if role.id == server_id:
                    raise BadRequest.for_field("position", "the default role stays at 0")
                access.require_above(position, "that position")
            updated = await roles.update(
                tx.conn, role_id, name=name, permissions=permissions, position=position, color=color
            )
            await tx.emit_server(server_id, RoleUpdated(role=role_view(updated)))
            await audit.record(
                tx,
                server_id,
                user_id,
                "role.update",
                target_id=role_id,
                reason=reason,
                changes={
                    k: v
                    for k, v in {
                        "name": name,
                        "permissions": permissions,
                        "position": position,
                        "color": color,
                    }.items()
                    if v is not None
                },
            )
        return updated

    async def delete(
        self, server_id: int, user_id: Snowflake, role_id: Snowflake, reason: str | None
    ) -> None:
        async with guild_change(self._platform) as tx:
            _, role = await self._managed_role(tx, server_id, user_id, role_id)
            if role.id == server_id:
                raise BadRequest("the default role cannot be deleted", code="default_role")
            await roles.delete(tx.conn, role_id)
            await tx.emit_server(
                server_id, RoleDeleted(server_id=Snowflake(server_id), role_id=role_id)
            )
            await audit.record(
                tx,
                server_id,
                user_id,
                "role.delete",
                target_id=role_id,
                reason=reason,
                changes={"name": role.name},
            )

    async def assign(
        self,
        server_id: int,
        user_id: Snowflake,
        member_id: Snowflake,
        role_id: Snowflake,
        *,
        add: bool,
        reason: str | None,
    ) -> None:
        async with guild_change(self._platform) as tx:
            access, role = await self._managed_role(tx, server_id, user_id, role_id)
            if role.id == server_id:
                raise BadRequest("every member has the default role", code="default_role")
            if add:
                # Giving a role hands out its permissions: the same rule as writing them.
                self._no_escalation(access, role.permissions)
            if await members.get(tx.conn, server_id, member_id) is None:
                raise NotFound("unknown member", code="unknown_member")
            if add:
                await members.add_role(tx.conn, server_id, member_id, role_id)
            else:
                await members.remove_role(tx.conn, server_id, member_id, role_id)
            member = await members.get(tx.conn, server_id, member_id)
            assert member is not None
            await tx.emit_server(server_id, MemberUpdated(member=member_view(member)))
            await audit.record(
                tx,
                server_id,
                user_id,
                "member.role_add" if add else "member.role_remove",
                target_id=member_id,
                reason=reason,
                changes={"role_id": str(role_id)},
            )
