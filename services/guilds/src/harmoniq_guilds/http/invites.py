"""Invites: ``/api/v1/invites/{code}`` (preview without an account, join, revoke), a channel's
``/api/v1/channels/{channel_id}/invites`` (create) and a server's
``/api/v1/servers/{server_id}/invites`` (list)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.errors import BadRequest
from harmoniq_common.events import ServerView
from harmoniq_common.ids import Snowflake

from ..domain.views import server_view
from .deps import G, UserRequest, dependencies, reason
from .schemas import InviteCreate, InvitePreview, InviteView, ServerPreview

__all__ = ["ChannelInvitesController", "InvitesController", "ServerInvitesController"]

_CODE = re.compile(r"[A-Za-z0-9]{1,32}")


def _code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise BadRequest.for_field("code", "an invite code is 1 to 32 ASCII letters and digits")
    return value


class InvitesController(Controller):
    path = "/api/v1/invites"
    tags = ["invites"]
    dependencies = dependencies()

    @get("/{code:str}", operation_id="previewInvite", exclude_from_auth=True)
    async def preview(
        self, request: Request[Any, Any, Any], code: FromPath[str], guilds: G
    ) -> InvitePreview:
        """What an invite leads to, without joining (no account needed): names and counts."""
        preview = await guilds.invites.preview(_code(code))
        server = server_view(preview.server)
        return InvitePreview(
            code=preview.invite.code,
            server=ServerPreview(
                id=server.id,
                name=server.name,
                description=server.description,
                icon_id=server.icon_id,
                icon_url=server.icon_url,
            ),
            channel_id=preview.invite.channel_id,
            channel_name=preview.channel_name,
            member_count=preview.member_count,
            expires_at=preview.invite.expires_at,
            temporary=preview.invite.temporary,
        )

    @post("/{code:str}", operation_id="acceptInvite", status_code=200)
    async def accept(self, request: UserRequest, code: FromPath[str], guilds: G) -> ServerView:
        """Join the invite's server (idempotent; refused to banned users)."""
        return server_view(await guilds.invites.join(_code(code), request.user.user_id))

    @delete("/{code:str}", operation_id="revokeInvite", status_code=HTTP_204_NO_CONTENT)
    async def revoke_invite(self, request: UserRequest, code: FromPath[str], guilds: G) -> None:
        """Revoke: its creator, or MANAGE_SERVER."""
        await guilds.invites.revoke(_code(code), request.user.user_id, reason(request))


class ChannelInvitesController(Controller):
    path = "/api/v1/channels/{channel_id:str}/invites"
    tags = ["invites"]
    dependencies = dependencies()

    @post("/", operation_id="createInvite", status_code=HTTP_201_CREATED)
    async def create_invite(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        data: JSONBody[InviteCreate],
        guilds: G,
    ) -> InviteView:
        """An invite to this channel's server (CREATE_INVITES in the channel)."""
        invite = await guilds.invites.create(
            channel_id,
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


class ServerInvitesController(Controller):
    path = "/api/v1/servers/{server_id:str}/invites"
    tags = ["invites"]
    dependencies = dependencies()

    @get("/", operation_id="listInvites")
    async def invites(
        self, request: UserRequest, server_id: FromPath[Snowflake], guilds: G
    ) -> list[InviteView]:
        access, _ = await guilds.servers.get(server_id, request.user.user_id)
        rows = await guilds.invites.list_all(server_id, request.user.user_id)
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
