"""Servers: create (with default roles and channels), read, update, delete, transfer, leave."""

from __future__ import annotations

from dataclasses import dataclass

from harmoniq_common.errors import BadRequest, Forbidden
from harmoniq_common.events import (
    ServerCreated,
    ServerDeleted,
    ServerUpdated,
)
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import ALL, DEFAULT_MEMBER, DEFAULT_MODERATOR, Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..settings import GuildsSettings
from ..store import channels, members, roles, servers
from ..store.rows import ServerRow
from . import audit
from .access import ServerAccess, load_access
from .changes import guild_change
from .icons import link_icon
from .members import remove_member
from .views import channel_view, role_view, server_view

__all__ = ["ServerChange", "Servers"]

# The plan's default roles. "member" is the default role: id = server id, every member has it.
DEFAULT_ROLES = (
    ("owner", int(ALL), 3),
    ("admin", int(Permission.ADMINISTRATOR | DEFAULT_MODERATOR), 2),
    ("moderator", int(DEFAULT_MODERATOR), 1),
)


@dataclass(frozen=True)
class ServerChange:
    name: str | None = None
    description: str | None = None
    clear_description: bool = False
    icon_id: str | None = None
    clear_icon: bool = False
    icon_media_id: int | None = None  # an upload, linked by media


class Servers:
    def __init__(self, platform: Platform, settings: GuildsSettings) -> None:
        self._platform = platform
        self._settings = settings

    @property
    def platform(self) -> Platform:
        return self._platform

    async def create(
        self, owner_id: Snowflake, name: str, description: str | None, icon_id: str | None
    ) -> ServerRow:
        async with guild_change(self._platform) as tx:
            if (
                await servers.count_memberships(tx.conn, owner_id)
                >= self._settings.max_servers_per_user
            ):
                raise BadRequest("you are in too many servers", code="too_many_servers")
            server = await servers.insert(
                tx.conn, self._platform.new_id(), name, description, icon_id, owner_id
            )
            created_roles = [
                await roles.insert(tx.conn, server.id, server.id, "member", int(DEFAULT_MEMBER), 0)
            ]
            for role_name, permissions, position in DEFAULT_ROLES:
                created_roles.append(
                    await roles.insert(
                        tx.conn,
                        self._platform.new_id(),
                        server.id,
                        role_name,
                        permissions,
                        position,
                    )
                )
            await members.add(tx.conn, server.id, owner_id, temporary=False)
            owner_role = created_roles[1]
            await members.add_role(tx.conn, server.id, owner_id, owner_role.id)
            general = await channels.insert(
                tx.conn, self._platform.new_id(), server.id, "text", "general", None, 0, None
            )
            voice = await channels.insert(
                tx.conn, self._platform.new_id(), server.id, "voice", "General", None, 1, None
            )
            created = ServerCreated(
                server=server_view(server),
                roles=[role_view(r) for r in created_roles],
                channels=[channel_view(general, []), channel_view(voice, [])],
            )
            await tx.emit_server(server.id, created)
            # Also to the owner: their gateway sessions start following the new server.
            await tx.emit_user(owner_id, created)
            await audit.record(
                tx,
                server.id,
                owner_id,
                "server.create",
                target_id=server.id,
                changes={"name": name},
            )
        return server

    async def get(self, server_id: int, user_id: Snowflake) -> tuple[ServerAccess, int]:
        async with self._platform.pool.acquire() as conn:
            access = await load_access(conn, server_id, user_id)
            return access, await members.count(conn, server_id)

    async def list_mine(self, user_id: int, after: int, limit: int) -> list[ServerRow]:
        async with self._platform.pool.acquire() as conn:
            return await servers.list_for_user(conn, user_id, after, limit)

    async def update(
        self, server_id: int, user_id: Snowflake, change: ServerChange, reason: str | None
    ) -> ServerRow:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            access.require(Permission.MANAGE_SERVER)
            icon_id = change.icon_id
            if change.icon_media_id is not None:
                icon_id = await link_icon(self._platform, user_id, server_id, change.icon_media_id)
            server = await servers.update(
                tx.conn,
                server_id,
                name=change.name,
                description=change.description,
                clear_description=change.clear_description,
                icon_id=icon_id,
                clear_icon=change.clear_icon,
            )
            await tx.emit_server(server_id, ServerUpdated(server=server_view(server)))
            await audit.record(
                tx,
                server_id,
                user_id,
                "server.update",
                target_id=server_id,
                reason=reason,
                changes=_changes(change),
            )
        return server

    async def delete(self, server_id: int, user_id: Snowflake) -> None:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            if not access.is_owner:
                raise Forbidden("only the owner can delete the server", code="not_owner")
            await self.remove(tx, server_id)

    async def remove(self, tx: UnitOfWork, server_id: int) -> None:
        await servers.delete(tx.conn, server_id)
        await tx.emit_server(server_id, ServerDeleted(server_id=Snowflake(server_id)))

    async def transfer(
        self, server_id: int, user_id: Snowflake, new_owner: Snowflake, reason: str | None
    ) -> ServerRow:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            if not access.is_owner:
                raise Forbidden("only the owner can transfer the server", code="not_owner")
            if await members.get(tx.conn, server_id, new_owner) is None:
                raise BadRequest.for_field("owner_id", "the new owner must be a member")
            server = await servers.set_owner(tx.conn, server_id, new_owner)
            await tx.emit_server(server_id, ServerUpdated(server=server_view(server)))
            await audit.record(
                tx, server_id, user_id, "server.transfer", target_id=new_owner, reason=reason
            )
        return server

    async def leave(self, server_id: int, user_id: Snowflake) -> None:
        async with guild_change(self._platform) as tx:
            access = await load_access(tx.conn, server_id, user_id)
            if access.is_owner:
                raise BadRequest(
                    "the owner cannot leave; transfer the server or delete it",
                    code="owner_cannot_leave",
                )
            await remove_member(tx, self._platform, server_id, user_id, "left")


def _changes(change: ServerChange) -> dict[str, object]:
    return {k: v for k, v in vars(change).items() if v not in (None, False)}
