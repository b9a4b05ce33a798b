"""``/api/v1/servers/{server_id}/roles``: list, create, change, delete."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.events import RoleView
from harmoniq_common.ids import Snowflake

from ..domain.views import role_view
from .deps import G, UserRequest, dependencies, reason, unset_as_none
from .schemas import RoleCreate, RoleUpdate

__all__ = ["RolesController"]


class RolesController(Controller):
    path = "/api/v1/servers/{server_id:str}/roles"
    tags = ["roles"]
    dependencies = dependencies()

    @get("/", operation_id="listRoles")
    async def roles(
        self, request: UserRequest, server_id: FromPath[Snowflake], guilds: G
    ) -> list[RoleView]:
        rows = await guilds.roles.list_all(server_id, request.user.user_id)
        return [role_view(r) for r in rows]

    @post("/", operation_id="createRole", status_code=HTTP_201_CREATED)
    async def create_role(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[RoleCreate],
        guilds: G,
    ) -> RoleView:
        return role_view(
            await guilds.roles.create(
                server_id,
                request.user.user_id,
                data.name,
                data.permissions,
                data.color,
                reason(request),
            )
        )

    @patch("/{role_id:str}", operation_id="updateRole")
    async def update_role(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        role_id: FromPath[Snowflake],
        data: JSONBody[RoleUpdate],
        guilds: G,
    ) -> RoleView:
        return role_view(
            await guilds.roles.update(
                server_id,
                request.user.user_id,
                role_id,
                name=unset_as_none(data.name),
                permissions=unset_as_none(data.permissions),
                position=unset_as_none(data.position),
                color=unset_as_none(data.color),
                reason=reason(request),
            )
        )

    @delete("/{role_id:str}", operation_id="deleteRole", status_code=HTTP_204_NO_CONTENT)
    async def delete_role(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        role_id: FromPath[Snowflake],
        guilds: G,
    ) -> None:
        await guilds.roles.delete(server_id, request.user.user_id, role_id, reason(request))
