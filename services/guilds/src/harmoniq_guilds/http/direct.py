"""``/api/v1/users/@me/channels``: open and list DMs, change and leave group DMs, and who is in
them; ``/api/v1/servers/{id}/privacy``: whether a server's members may DM me."""

from __future__ import annotations

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.errors import Forbidden
from harmoniq_common.events import DmChannelView
from harmoniq_common.ids import Snowflake
from harmoniq_common.ratelimit import RateLimit, limit_request

from ..domain.direct import GroupChange
from ..settings import GuildsSettings
from .deps import G, UserRequest, dependencies
from .direct_schemas import DmOpen, DmPrivacy, DmUpdate

__all__ = ["DmChannelsController", "DmPrivacyController"]


class DmChannelsController(Controller):
    path = "/api/v1/users/@me/channels"
    tags = ["direct messages"]
    dependencies = dependencies()

    @get("/", operation_id="listDmChannels")
    async def list_mine(self, request: UserRequest, guilds: G) -> list[DmChannelView]:
        """The caller's DMs and group DMs, newest activity first."""
        return await guilds.direct.list_all(request.user.user_id)

    @post("/", operation_id="openDmChannel", status_code=HTTP_201_CREATED)
    async def open(
        self, request: UserRequest, data: JSONBody[DmOpen], guilds: G
    ) -> Response[DmChannelView]:
        """One recipient: the DM with them (200 if it existed); several: a new group DM.
        Each recipient must be a friend, or share a server that lets its members DM them."""
        if request.user.kind == "bot" and len(data.recipient_ids) > 1:
            raise Forbidden("bots open 1:1 DMs only", code="bots_cannot")
        settings: GuildsSettings = request.app.state.platform.settings
        await limit_request(
            request,
            request.app.state.platform.limiter,
            RateLimit("dm_open", settings.dm_open_rate_limit, settings.dm_open_rate_period_seconds),
            str(request.user.user_id),
        )
        view, created = await guilds.direct.open(
            request.user.user_id, data.recipient_ids, data.name, data.icon_id
        )
        return Response(view, status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @patch("/{channel_id:str}", operation_id="updateGroupDm")
    async def update(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        data: JSONBody[DmUpdate],
        guilds: G,
    ) -> DmChannelView:
        """Rename a group DM or change its icon (``icon_id: null`` removes it)."""
        change = GroupChange(
            name=data.name if isinstance(data.name, str) else None,
            icon_id=data.icon_id if isinstance(data.icon_id, str) else None,
            clear_icon=data.icon_id is None,
        )
        return await guilds.direct.update(request.user.user_id, channel_id, change)

    @delete("/{channel_id:str}", operation_id="leaveGroupDm", status_code=HTTP_204_NO_CONTENT)
    async def leave(self, request: UserRequest, channel_id: FromPath[Snowflake], guilds: G) -> None:
        """Leave a group DM."""
        await guilds.direct.remove(request.user.user_id, channel_id, request.user.user_id)

    @put(
        "/{channel_id:str}/recipients/{user_id:str}",
        operation_id="addGroupDmRecipient",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def add(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        user_id: FromPath[Snowflake],
        guilds: G,
    ) -> None:
        """The owner adds someone (whom they may DM) to a group DM."""
        await guilds.direct.add(request.user.user_id, channel_id, user_id)

    @delete(
        "/{channel_id:str}/recipients/{user_id:str}",
        operation_id="removeGroupDmRecipient",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def remove(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        user_id: FromPath[Snowflake],
        guilds: G,
    ) -> None:
        """The owner removes someone; anyone removes themselves."""
        await guilds.direct.remove(request.user.user_id, channel_id, user_id)


class DmPrivacyController(Controller):
    path = "/api/v1/servers/{server_id:str}/privacy"
    tags = ["direct messages"]
    dependencies = dependencies()

    @get("/", operation_id="getDmPrivacy")
    async def get_privacy(
        self, request: UserRequest, server_id: FromPath[Snowflake], guilds: G
    ) -> DmPrivacy:
        return DmPrivacy(
            allow_dms=await guilds.relationships.allows_dms(server_id, request.user.user_id)
        )

    @put("/", operation_id="setDmPrivacy")
    async def set_privacy(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[DmPrivacy],
        guilds: G,
    ) -> DmPrivacy:
        """Whether this server's other members may open DMs with me (default on)."""
        await guilds.relationships.set_allow_dms(server_id, request.user.user_id, data.allow_dms)
        return data
