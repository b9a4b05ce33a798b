"""``/api/v1/servers/{server_id}/members``: list, read, nickname, kick or leave, roles."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from harmoniq_common.events import MemberView
from harmoniq_common.ids import Snowflake
from harmoniq_common.params import IdCursor, SnowflakeOrMe

from ..domain.views import member_view
from .deps import G, PageSize, UserRequest, dependencies, reason
from .schemas import MemberUpdate

__all__ = ["MembersController"]


class MembersController(Controller):
    path = "/api/v1/servers/{server_id:str}/members"
    tags = ["members"]
    dependencies = dependencies()

    @get("/", operation_id="listMembers")
    async def members(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        guilds: G,
        after: FromQuery[IdCursor] = IdCursor(0),
        limit: PageSize = 100,
    ) -> list[MemberView]:
        rows = await guilds.members.list_all(server_id, request.user.user_id, after, limit)
        return [member_view(r) for r in rows]

    @get("/{member_id:str}", operation_id="getMember")
    async def member(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        member_id: FromPath[SnowflakeOrMe],
        guilds: G,
    ) -> MemberView:
        me = request.user.user_id
        return member_view(await guilds.members.get(server_id, me, member_id.resolve(me)))

    @patch("/{member_id:str}", operation_id="updateMember")
    async def update_member(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        member_id: FromPath[SnowflakeOrMe],
        data: JSONBody[MemberUpdate],
        guilds: G,
    ) -> MemberView:
        """Nickname (``null`` clears): your own with CHANGE_NICKNAME, others' with
        MANAGE_NICKNAMES below you in the hierarchy."""
        me = request.user.user_id
        return member_view(
            await guilds.members.set_nickname(
                server_id, me, member_id.resolve(me), data.nickname, reason(request)
            )
        )

    @delete("/{member_id:str}", operation_id="removeMember", status_code=HTTP_204_NO_CONTENT)
    async def remove_member(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        member_id: FromPath[SnowflakeOrMe],
        guilds: G,
    ) -> None:
        """``@me``: leave the server. Anyone else: kick (KICK_MEMBERS, hierarchy)."""
        me = request.user.user_id
        if member_id.is_me:
            await guilds.servers.leave(server_id, me)
        else:
            await guilds.members.kick(server_id, me, member_id.resolve(me), reason(request))

    @put(
        "/{member_id:str}/roles/{role_id:str}",
        operation_id="addMemberRole",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def add_role(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        member_id: FromPath[SnowflakeOrMe],
        role_id: FromPath[Snowflake],
        guilds: G,
    ) -> None:
        me = request.user.user_id
        await guilds.roles.assign(
            server_id, me, member_id.resolve(me), role_id, add=True, reason=reason(request)
        )

    @delete(
        "/{member_id:str}/roles/{role_id:str}",
        operation_id="removeMemberRole",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def remove_role(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        member_id: FromPath[SnowflakeOrMe],
        role_id: FromPath[Snowflake],
        guilds: G,
    ) -> None:
        me = request.user.user_id
        await guilds.roles.assign(
            server_id, me, member_id.resolve(me), role_id, add=False, reason=reason(request)
        )
