"""``/api/v1/channels/{id}`` (guilds' part: messages under it belong to services/messages)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.events import ChannelView
from harmoniq_common.ids import parse_id
from harmoniq_common.permissions import Permission
from harmoniq_common.validation import ID_PATTERN

from ..domain.channels import ChannelChange
from ..domain.views import channel_view, server_view
from .deps import Guilds, UserRequest, dependencies, reason
from .schemas import ChannelDetail, ChannelUpdate, InviteCreate, InviteView, OverwriteSet

__all__ = ["ChannelsController"]

G = NamedDependency[Guilds]


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


class ChannelsController(Controller):
    path = "/api/v1/channels"
    tags = ["channels"]
    dependencies = dependencies()

    @get("/{channel_id:str}", operation_id="getChannel")
    async def get_channel(
        self, request: UserRequest, channel_id: FromPath[str], guilds: G
    ) -> ChannelDetail:
        """A channel the caller can view, with their permissions in it."""
        channel, overwrites, permissions = await guilds.channels.get(
            parse_id("channel_id", channel_id), request.user.user_id
        )
        view = channel_view(channel, overwrites)
        return ChannelDetail(**msgspec.structs.asdict(view), permissions=permissions)

    @patch("/{channel_id:str}", operation_id="updateChannel")
    async def update(
        self,
        request: UserRequest,
        channel_id: FromPath[str],
        data: JSONBody[ChannelUpdate],
        guilds: G,
    ) -> ChannelView:
        change = ChannelChange(
            name=None if data.name is msgspec.UNSET else data.name,
            topic=data.topic if isinstance(data.topic, str) else None,
            clear_topic=data.topic is None,
            parent_id=data.parent_id if isinstance(data.parent_id, int) else None,
            clear_parent=data.parent_id is None,
        )
        channel = await guilds.channels.update(
            parse_id("channel_id", channel_id), request.user.user_id, change, reason(request)
        )
        _, overwrites, _ = await guilds.channels.get(channel.id, request.user.user_id)
        return channel_view(channel, overwrites)

    @delete("/{channel_id:str}", operation_id="deleteChannel", status_code=HTTP_204_NO_CONTENT)
    async def delete_channel(
        self, request: UserRequest, channel_id: FromPath[str], guilds: G
    ) -> None:
        await guilds.channels.delete(
            parse_id("channel_id", channel_id), request.user.user_id, reason(request)
        )

    @put(
        "/{channel_id:str}/permissions/{target_id:str}",
        operation_id="setOverwrite",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def set_overwrite(
        self,
        request: UserRequest,
        channel_id: FromPath[str],
        target_id: FromPath[str],
        data: JSONBody[OverwriteSet],
        guilds: G,
    ) -> None:
        """Allow/deny bits for one role or member in this channel (MANAGE_ROLES)."""
        await guilds.channels.set_overwrite(
            parse_id("channel_id", channel_id),
            request.user.user_id,
            data.target_kind,
            parse_id("target_id", target_id),
            data.allow,
            data.deny,
            reason(request),
        )

    @delete(
        "/{channel_id:str}/permissions/{target_id:str}",
        operation_id="deleteOverwrite",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def delete_overwrite(
        self, request: UserRequest, channel_id: FromPath[str], target_id: FromPath[str], guilds: G
    ) -> None:
        await guilds.channels.delete_overwrite(
            parse_id("channel_id", channel_id),
            request.user.user_id,
            parse_id("target_id", target_id),
            reason(request),
        )

    @get("/{channel_id:str}/permissions/explain", operation_id="explainPermissions")
    async def explain(
        self,
        request: UserRequest,
        channel_id: FromPath[str],
        guilds: G,
        user_id: Annotated[str | None, QueryParameter(name="user_id", pattern=ID_PATTERN)] = None,
    ) -> PermissionExplanation:
        """Why a member can or cannot do something here: every step of the computation."""
        subject = request.user.user_id if user_id is None else parse_id("user_id", user_id)
        cid = parse_id("channel_id", channel_id)
        explanation = await guilds.channels.explain(cid, request.user.user_id, subject)
        return PermissionExplanation(
            user_id=str(subject),
            channel_id=str(cid),
            permissions=explanation.permissions,
            granted=[p.name for p in Permission if p.name and explanation.permissions & p],
            steps=[
                ExplainStep(what=s.what, permissions=s.permissions, allow=s.allow, deny=s.deny)
                for s in explanation.steps
            ],
        )

    @post("/{channel_id:str}/invites", operation_id="createInvite", status_code=HTTP_201_CREATED)
    async def create_invite(
        self,
        request: UserRequest,
        channel_id: FromPath[str],
        data: JSONBody[InviteCreate],
        guilds: G,
    ) -> InviteView:
        """An invite to this channel's server (CREATE_INVITES in the channel)."""
        invite = await guilds.invites.create(
            parse_id("channel_id", channel_id),
            request.user.user_id,
            data.max_uses,
            data.max_age_seconds,
            data.temporary,
            reason(request),
        )
        preview = await guilds.invites.preview(invite.code)
        return InviteView(
            code=invite.code,
            server=server_view(preview.server),
            channel_id=invite.channel_id,
            channel_name=preview.channel_name,
            member_count=preview.member_count,
            creator_id=invite.creator_id,
            max_uses=invite.max_uses,
            uses=invite.uses,
            expires_at=invite.expires_at,
            temporary=invite.temporary,
        )
