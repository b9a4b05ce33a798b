"""``/api/v1/invites/{code}``: preview (no account needed), join, revoke."""

from __future__ import annotations

import re
from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.status_codes import HTTP_204_NO_CONTENT

from harmoniq_common.errors import BadRequest
from harmoniq_common.events import ServerView

from ..domain.views import server_view
from .deps import Guilds, UserRequest, dependencies, reason
from .schemas import InvitePreview, ServerPreview

__all__ = ["InvitesController"]

G = NamedDependency[Guilds]


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
        server = preview.server
        return InvitePreview(
            code=preview.invite.code,
            server=ServerPreview(
                id=server.id,
                name=server.name,
                description=server.description,
                icon_id=server.icon_id,
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
