"""``/api/v1/servers``: servers, their members, bans, roles, channels and invites."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.errors import BadRequest, NotFound
from harmoniq_common.events import ChannelView, MemberView, RoleView, ServerView
from harmoniq_common.ids import parse_id
from harmoniq_common.validation import ID_PATTERN, anchored

from ..domain import audit
from ..domain.servers import ServerChange
from ..domain.views import channel_view, member_view, role_view, server_view
from .deps import Guilds, UserRequest, dependencies, reason
from .schemas import (
    BanCreate,
    ChannelCreate,
    ChannelPosition,
    InviteView,
    JoinServer,
    MemberUpdate,
    RoleCreate,
    RoleUpdate,
    ServerCreate,
    ServerDetail,
    ServerUpdate,
    Transfer,
)

__all__ = ["ServersController"]

AFTER_PATTERN = anchored("0|[1-9][0-9]{0,18}")  # an id, or 0: from the start
After = Annotated[str, QueryParameter(name="after", max_length=19, pattern=AFTER_PATTERN)]
Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=1000)]
G = NamedDependency[Guilds]
MAX_REORDER = 500


def _unset(value: Any) -> Any:
    return None if value is msgspec.UNSET else value


def _after(value: str) -> int:
    return 0 if value == "0" else parse_id("after", value)


class ServersController(Controller):
    path = "/api/v1/servers"
    tags = ["servers"]
    dependencies = dependencies()

    @post("/", operation_id="createServer", status_code=HTTP_201_CREATED)
    async def create(
        self, request: UserRequest, data: JSONBody[ServerCreate], guilds: G
    ) -> ServerView:
        """Create a server; the caller owns it. Default roles and channels come with it."""
        return server_view(
            await guilds.servers.create(
                request.user.user_id, data.name, data.description, data.icon_id
            )
        )

    @get("/", operation_id="listServers")
    async def list_mine(
        self, request: UserRequest, guilds: G, after: After = "0", limit: Limit = 100
    ) -> list[ServerView]:
        """The caller's servers, by id, after the cursor."""
        rows = await guilds.servers.list_mine(request.user.user_id, _after(after), limit)
        return [server_view(r) for r in rows]

    @get("/{server_id:str}", operation_id="getServer")
    async def get_server(
        self, request: UserRequest, server_id: FromPath[str], guilds: G
    ) -> ServerDetail:
        access, count = await guilds.servers.get(
            parse_id("server_id", server_id), request.user.user_id
        )
        view = server_view(access.server)
        return ServerDetail(
            **msgspec.structs.asdict(view), member_count=count, permissions=access.permissions
        )

    @patch("/{server_id:str}", operation_id="updateServer")
    async def update(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        data: JSONBody[ServerUpdate],
        guilds: G,
    ) -> ServerView:
        """Name, description, icon (``null`` clears). MANAGE_SERVER."""
        change = ServerChange(
            name=_unset(data.name),
            description=data.description if isinstance(data.description, str) else None,
            clear_description=data.description is None,
            icon_id=data.icon_id if isinstance(data.icon_id, str) else None,
            clear_icon=data.icon_id is None,
        )
        return server_view(
            await guilds.servers.update(
                parse_id("server_id", server_id), request.user.user_id, change, reason(request)
            )
        )

    @delete("/{server_id:str}", operation_id="deleteServer", status_code=HTTP_204_NO_CONTENT)
    async def delete_server(
        self, request: UserRequest, server_id: FromPath[str], guilds: G
    ) -> None:
        """Delete the server and everything in it. Owner only."""
        await guilds.servers.delete(parse_id("server_id", server_id), request.user.user_id)

    @post("/{server_id:str}/transfer", operation_id="transferServer", status_code=200)
    async def transfer(
        self, request: UserRequest, server_id: FromPath[str], data: JSONBody[Transfer], guilds: G
    ) -> ServerView:
        """Give the server to another member. Owner only."""
        return server_view(
            await guilds.servers.transfer(
                parse_id("server_id", server_id),
                request.user.user_id,
                data.owner_id,
                reason(request),
            )
        )

    @post("/{server_id:str}/join", operation_id="joinServer", status_code=200)
    async def join(
        self, request: UserRequest, server_id: FromPath[str], data: JSONBody[JoinServer], guilds: G
    ) -> ServerView:
        """Join with an invite code of this server."""
        preview = await guilds.invites.preview(data.code)
        if preview.server.id != parse_id("server_id", server_id):
            raise NotFound("unknown or expired invite", code="unknown_invite")
        return server_view(await guilds.invites.join(data.code, request.user.user_id))

    # -- members ----------------------------------------------------------------------------
    @get("/{server_id:str}/members", operation_id="listMembers")
    async def members(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        guilds: G,
        after: After = "0",
        limit: Limit = 100,
    ) -> list[MemberView]:
        rows = await guilds.members.list_all(
            parse_id("server_id", server_id), request.user.user_id, _after(after), limit
        )
        return [member_view(r) for r in rows]

    @get("/{server_id:str}/members/{member_id:str}", operation_id="getMember")
    async def member(
        self, request: UserRequest, server_id: FromPath[str], member_id: FromPath[str], guilds: G
    ) -> MemberView:
        return member_view(
            await guilds.members.get(
                parse_id("server_id", server_id),
                request.user.user_id,
                self._member_id(request, member_id),
            )
        )

    @staticmethod
    def _member_id(request: UserRequest, value: str) -> Any:
        return request.user.user_id if value == "@me" else parse_id("member_id", value)

    @patch("/{server_id:str}/members/{member_id:str}", operation_id="updateMember")
    async def update_member(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        member_id: FromPath[str],
        data: JSONBody[MemberUpdate],
        guilds: G,
    ) -> MemberView:
        """Nickname (``null`` clears): your own with CHANGE_NICKNAME, others' with
        MANAGE_NICKNAMES below you in the hierarchy."""
        return member_view(
            await guilds.members.set_nickname(
                parse_id("server_id", server_id),
                request.user.user_id,
                self._member_id(request, member_id),
                data.nickname,
                reason(request),
            )
        )

    @delete(
        "/{server_id:str}/members/{member_id:str}",
        operation_id="removeMember",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def remove_member(
        self, request: UserRequest, server_id: FromPath[str], member_id: FromPath[str], guilds: G
    ) -> None:
        """``@me``: leave the server. Anyone else: kick (KICK_MEMBERS, hierarchy)."""
        sid = parse_id("server_id", server_id)
        if member_id == "@me":
            await guilds.servers.leave(sid, request.user.user_id)
        else:
            await guilds.members.kick(
                sid, request.user.user_id, parse_id("member_id", member_id), reason(request)
            )

    @put(
        "/{server_id:str}/members/{member_id:str}/roles/{role_id:str}",
        operation_id="addMemberRole",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def add_role(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        member_id: FromPath[str],
        role_id: FromPath[str],
        guilds: G,
    ) -> None:
        await guilds.roles.assign(
            parse_id("server_id", server_id),
            request.user.user_id,
            self._member_id(request, member_id),
            parse_id("role_id", role_id),
            add=True,
            reason=reason(request),
        )

    @delete(
        "/{server_id:str}/members/{member_id:str}/roles/{role_id:str}",
        operation_id="removeMemberRole",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def remove_role(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        member_id: FromPath[str],
        role_id: FromPath[str],
        guilds: G,
    ) -> None:
        await guilds.roles.assign(
            parse_id("server_id", server_id),
            request.user.user_id,
            self._member_id(request, member_id),
            parse_id("role_id", role_id),
            add=False,
            reason=reason(request),
        )

    # -- bans -------------------------------------------------------------------------------
    @get("/{server_id:str}/bans", operation_id="listBans")
    async def bans(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        guilds: G,
        after: After = "0",
        limit: Limit = 100,
    ) -> list[dict[str, Any]]:
        rows = await guilds.members.bans(
            parse_id("server_id", server_id), request.user.user_id, _after(after), limit
        )
        return [
            {
                "user_id": str(r["user_id"]),
                "reason": r["reason"],
                "banned_by": str(r["banned_by"]),
                "created_at": r["created_at"],
            }
            for r in rows
        ]

    @put(
        "/{server_id:str}/bans/{user_id:str}",
        operation_id="banUser",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def ban(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        user_id: FromPath[str],
        guilds: G,
        data: JSONBody[BanCreate | None] = None,
    ) -> None:
        """Ban (and remove) a user; a banned user cannot rejoin by any invite. The body is
        optional; its ``reason`` wins over ``X-Audit-Log-Reason``."""
        ban = data or BanCreate()
        header_reason = reason(request)
        await guilds.members.ban(
            parse_id("server_id", server_id),
            request.user.user_id,
            parse_id("user_id", user_id),
            ban.reason or header_reason,
            ban.delete_message_seconds,
        )

    @delete(
        "/{server_id:str}/bans/{user_id:str}",
        operation_id="unbanUser",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def unban(
        self, request: UserRequest, server_id: FromPath[str], user_id: FromPath[str], guilds: G
    ) -> None:
        await guilds.members.unban(
            parse_id("server_id", server_id),
            request.user.user_id,
            parse_id("user_id", user_id),
            reason(request),
        )

    # -- roles ------------------------------------------------------------------------------
    @get("/{server_id:str}/roles", operation_id="listRoles")
    async def roles(
        self, request: UserRequest, server_id: FromPath[str], guilds: G
    ) -> list[RoleView]:
        rows = await guilds.roles.list_all(parse_id("server_id", server_id), request.user.user_id)
        return [role_view(r) for r in rows]

    @post("/{server_id:str}/roles", operation_id="createRole", status_code=HTTP_201_CREATED)
    async def create_role(
        self, request: UserRequest, server_id: FromPath[str], data: JSONBody[RoleCreate], guilds: G
    ) -> RoleView:
        return role_view(
            await guilds.roles.create(
                parse_id("server_id", server_id),
                request.user.user_id,
                data.name,
                data.permissions,
                data.color,
                reason(request),
            )
        )

    @patch("/{server_id:str}/roles/{role_id:str}", operation_id="updateRole")
    async def update_role(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        role_id: FromPath[str],
        data: JSONBody[RoleUpdate],
        guilds: G,
    ) -> RoleView:
        return role_view(
            await guilds.roles.update(
                parse_id("server_id", server_id),
                request.user.user_id,
                parse_id("role_id", role_id),
                name=_unset(data.name),
                permissions=_unset(data.permissions),
                position=_unset(data.position),
                color=_unset(data.color),
                reason=reason(request),
            )
        )

    @delete(
        "/{server_id:str}/roles/{role_id:str}",
        operation_id="deleteRole",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_role(
        self, request: UserRequest, server_id: FromPath[str], role_id: FromPath[str], guilds: G
    ) -> None:
        await guilds.roles.delete(
            parse_id("server_id", server_id),
            request.user.user_id,
            parse_id("role_id", role_id),
            reason(request),
        )

    # -- channels ---------------------------------------------------------------------------
    @get("/{server_id:str}/channels", operation_id="listChannels")
    async def channels(
        self, request: UserRequest, server_id: FromPath[str], guilds: G
    ) -> list[ChannelView]:
        """The channels the caller can view, in order."""
        rows = await guilds.channels.list_visible(
            parse_id("server_id", server_id), request.user.user_id
        )
        return [channel_view(c, o) for c, o in rows]

    @post("/{server_id:str}/channels", operation_id="createChannel", status_code=HTTP_201_CREATED)
    async def create_channel(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        data: JSONBody[ChannelCreate],
        guilds: G,
    ) -> ChannelView:
        channel, overwrites = await guilds.channels.create(
            parse_id("server_id", server_id),
            request.user.user_id,
            data.kind,
            data.name,
            data.topic,
            data.parent_id,
            reason(request),
        )
        return channel_view(channel, overwrites)

    @patch(
        "/{server_id:str}/channels", operation_id="reorderChannels", status_code=HTTP_204_NO_CONTENT
    )
    async def reorder(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        data: JSONBody[list[ChannelPosition]],
        guilds: G,
    ) -> None:
        """New positions for some of the server's channels, all or none (MANAGE_CHANNELS)."""
        # Checked here: Litestar drops a msgspec ``Meta`` nested inside ``JSONBody``.
        if len(data) > MAX_REORDER:
            raise BadRequest.for_field("body", f"at most {MAX_REORDER} channels at once")
        if len({p.id for p in data}) != len(data):
            raise BadRequest.for_field("body", "each channel at most once")
        await guilds.channels.reorder(
            parse_id("server_id", server_id),
            request.user.user_id,
            [(p.id, p.position) for p in data],
            reason(request),
        )

    # -- invites ----------------------------------------------------------------------------
    @get("/{server_id:str}/invites", operation_id="listInvites")
    async def invites(
        self, request: UserRequest, server_id: FromPath[str], guilds: G
    ) -> list[InviteView]:
        sid = parse_id("server_id", server_id)
        access, _ = await guilds.servers.get(sid, request.user.user_id)
        rows = await guilds.invites.list_all(sid, request.user.user_id)
        return [
            InviteView(
                code=r.code,
                server=server_view(access.server),
                channel_id=r.channel_id,
                creator_id=r.creator_id,
                max_uses=r.max_uses,
                uses=r.uses,
                expires_at=r.expires_at,
                temporary=r.temporary,
            )
            for r in rows
        ]

    # -- audit log --------------------------------------------------------------------------
    @get("/{server_id:str}/audit-log", operation_id="readAuditLog")
    async def audit_log(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        guilds: G,
        before: Annotated[str | None, QueryParameter(name="before", pattern=ID_PATTERN)] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=100)] = 50,
        action: Annotated[str | None, QueryParameter(name="action", max_length=64)] = None,
        actor_id: Annotated[str | None, QueryParameter(name="actor_id", pattern=ID_PATTERN)] = None,
    ) -> list[dict[str, Any]]:
        """Moderation and configuration actions, newest first (VIEW_AUDIT_LOG)."""
        return await audit.read(
            guilds.servers.platform,
            parse_id("server_id", server_id),
            request.user.user_id,
            before=None if before is None else parse_id("before", before),
            limit=limit,
            action=action,
            actor_id=None if actor_id is None else parse_id("actor_id", actor_id),
        )
