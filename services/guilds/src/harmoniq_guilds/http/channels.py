"""Channels: ``/api/v1/servers/{server_id}/channels`` (list, create, reorder) and
``/api/v1/channels/{channel_id}`` (read, change, delete, overwrites, explain). Messages under a
channel belong to services/messages."""

from __future__ import annotations

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.errors import BadRequest
from harmoniq_common.events import ChannelView
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission

from ..domain.channels import ChannelChange
from ..domain.views import channel_view
from .deps import G, UserRequest, dependencies, reason
from .schemas import ChannelCreate, ChannelDetail, ChannelPosition, ChannelUpdate, OverwriteSet

__all__ = ["ChannelsController", "ServerChannelsController"]

MAX_REORDER = 500


class ExplainStep(msgspec.Struct, kw_only=True):
    what: str
    permissions: int
    allow: int
    deny: int


class PermissionExplanation(msgspec.Struct, kw_only=True):
    user_id: str
    channel_id: str
    permissions: int
    granted: list[str]
    steps: list[ExplainStep]


class ServerChannelsController(Controller):
    path = "/api/v1/servers/{server_id:str}/channels"
    tags = ["channels"]
    dependencies = dependencies()

    @get("/", operation_id="listChannels")
    async def channels(
        self, request: UserRequest, server_id: FromPath[Snowflake], guilds: G
    ) -> list[ChannelView]:
        """The channels the caller can view, in order."""
        rows = await guilds.channels.list_visible(server_id, request.user.user_id)
        return [channel_view(c, o) for c, o in rows]

    @post("/", operation_id="createChannel", status_code=HTTP_201_CREATED)
    async def create_channel(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[ChannelCreate],
        guilds: G,
    ) -> ChannelView:
        channel, overwrites = await guilds.channels.create(
            server_id,
            request.user.user_id,
            data.kind,
            data.name,
            data.topic,
            data.parent_id,
            reason(request),
            user_limit=data.user_limit,
            bitrate=data.bitrate,
        )
        return channel_view(channel, overwrites)

    @patch("/", operation_id="reorderChannels", status_code=HTTP_204_NO_CONTENT)
    async def reorder(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
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
            server_id, request.user.user_id, [(p.id, p.position) for p in data], reason(request)
        )


class ChannelsController(Controller):
    path = "/api/v1/channels/{channel_id:str}"
    tags = ["channels"]
    dependencies = dependencies()

    @get("/", operation_id="getChannel")
    async def get_channel(
        self, request: UserRequest, channel_id: FromPath[Snowflake], guilds: G
    ) -> ChannelDetail:
        """A channel the caller can view, with their permissions in it."""
        channel, overwrites, permissions = await guilds.channels.get(
            channel_id, request.user.user_id
        )
        view = channel_view(channel, overwrites)
        return ChannelDetail(**msgspec.structs.asdict(view), permissions=permissions)

    @patch("/", operation_id="updateChannel")
    async def update(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        data: JSONBody[ChannelUpdate],
        guilds: G,
    ) -> ChannelView:
        change = ChannelChange(
            name=None if data.name is msgspec.UNSET else data.name,
            topic=data.topic if isinstance(data.topic, str) else None,
            clear_topic=data.topic is None,
            parent_id=data.parent_id if isinstance(data.parent_id, int) else None,
            clear_parent=data.parent_id is None,
            user_limit=None if data.user_limit is msgspec.UNSET else data.user_limit,
            bitrate=None if data.bitrate is msgspec.UNSET else data.bitrate,
        )
        channel = await guilds.channels.update(
            channel_id, request.user.user_id, change, reason(request)
        )
        _, overwrites, _ = await guilds.channels.get(channel.id, request.user.user_id)
        return channel_view(channel, overwrites)

    @delete("/", operation_id="deleteChannel", status_code=HTTP_204_NO_CONTENT)
    async def delete_channel(
        self, request: UserRequest, channel_id: FromPath[Snowflake], guilds: G
    ) -> None:
        await guilds.channels.delete(channel_id, request.user.user_id, reason(request))

    @put(
        "/permissions/{target_id:str}", operation_id="setOverwrite", status_code=HTTP_204_NO_CONTENT
    )
    async def set_overwrite(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        target_id: FromPath[Snowflake],
        data: JSONBody[OverwriteSet],
        guilds: G,
    ) -> None:
        """Allow/deny bits for one role or member in this channel (MANAGE_ROLES)."""
        await guilds.channels.set_overwrite(
            channel_id,
            request.user.user_id,
            data.target_kind,
            target_id,
            data.allow,
            data.deny,
            reason(request),
        )

    @delete(
        "/permissions/{target_id:str}",
        operation_id="deleteOverwrite",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_overwrite(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        target_id: FromPath[Snowflake],
        guilds: G,
    ) -> None:
        await guilds.channels.delete_overwrite(
            channel_id, request.user.user_id, target_id, reason(request)
        )

    @get("/permissions/explain", operation_id="explainPermissions")
    async def explain(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        guilds: G,
        user_id: FromQuery[Snowflake | None] = None,
    ) -> PermissionExplanation:
        """Why a member can or cannot do something here: every step of the computation."""
        subject = request.user.user_id if user_id is None else user_id
        explanation = await guilds.channels.explain(channel_id, request.user.user_id, subject)
        return PermissionExplanation(
            user_id=str(subject),
            channel_id=str(channel_id),
            permissions=explanation.permissions,
            granted=[p.name for p in Permission if p.name and explanation.permissions & p],
            steps=[
                ExplainStep(what=s.what, permissions=s.permissions, allow=s.allow, deny=s.deny)
                for s in explanation.steps
            ],
        )
