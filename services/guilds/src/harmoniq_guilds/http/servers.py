"""``/api/v1/servers``: create, list, read, change, delete, transfer and join a server."""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.errors import BadRequest, NotFound
from harmoniq_common.events import ServerView
from harmoniq_common.ids import Snowflake
from harmoniq_common.params import IdCursor

from ..domain.servers import ServerChange
from ..domain.views import server_view
from .deps import G, PageSize, UserRequest, dependencies, reason, unset_as_none
from .schemas import JoinServer, ServerCreate, ServerDetail, ServerUpdate, Transfer

__all__ = ["ServersController"]


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
        self,
        request: UserRequest,
        guilds: G,
        after: FromQuery[IdCursor] = IdCursor(0),
        limit: PageSize = 100,
    ) -> list[ServerView]:
        """The caller's servers, by id, after the cursor."""
        rows = await guilds.servers.list_mine(request.user.user_id, after, limit)
        return [server_view(r) for r in rows]

    @get("/{server_id:str}", operation_id="getServer")
    async def get_server(
        self, request: UserRequest, server_id: FromPath[Snowflake], guilds: G
    ) -> ServerDetail:
        access, count = await guilds.servers.get(server_id, request.user.user_id)
        view = server_view(access.server)
        return ServerDetail(
            **msgspec.structs.asdict(view), member_count=count, permissions=access.permissions
        )

    @patch("/{server_id:str}", operation_id="updateServer")
    async def update(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[ServerUpdate],
        guilds: G,
    ) -> ServerView:
        """Name, description, icon (``null`` clears). MANAGE_SERVER."""
        if data.icon is not msgspec.UNSET and data.icon_id is not msgspec.UNSET:
            raise BadRequest.for_field("icon", "give icon or icon_id, not both")
        change = ServerChange(
            name=unset_as_none(data.name),
            description=data.description if isinstance(data.description, str) else None,
            clear_description=data.description is None,
            icon_id=data.icon_id if isinstance(data.icon_id, str) else None,
            clear_icon=data.icon_id is None,
            icon_media_id=unset_as_none(data.icon),
        )
        return server_view(
            await guilds.servers.update(server_id, request.user.user_id, change, reason(request))
        )

    @delete("/{server_id:str}", operation_id="deleteServer", status_code=HTTP_204_NO_CONTENT)
    async def delete_server(
        self, request: UserRequest, server_id: FromPath[Snowflake], guilds: G
    ) -> None:
        """Delete the server and everything in it. Owner only."""
        await guilds.servers.delete(server_id, request.user.user_id)

    @post("/{server_id:str}/transfer", operation_id="transferServer", status_code=200)
    async def transfer(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[Transfer],
        guilds: G,
    ) -> ServerView:
        """Give the server to another member. Owner only."""
        return server_view(
            await guilds.servers.transfer(
                server_id, request.user.user_id, data.owner_id, reason(request)
            )
        )

    @post("/{server_id:str}/join", operation_id="joinServer", status_code=200)
    async def join(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[JoinServer],
        guilds: G,
    ) -> ServerView:
        """Join with an invite code of this server."""
        preview = await guilds.invites.preview(data.code)
        if preview.server.id != server_id:
            raise NotFound("unknown or expired invite", code="unknown_invite")
        return server_view(await guilds.invites.join(data.code, request.user.user_id))
