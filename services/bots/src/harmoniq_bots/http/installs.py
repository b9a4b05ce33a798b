"""``/api/v1/servers/{id}/bots``: bots installed in a server (``MANAGE_SERVER``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import unquote

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import Meta

from harmoniq_common.errors import BadRequest, Forbidden
from harmoniq_common.ids import Snowflake
from harmoniq_common.installations import BotUsername, InstalledBot
from harmoniq_common.permissions import ALL
from harmoniq_common.validation import single_line

from ..domain.installs import Installed
from .deps import AnyRequest, Domain, UserRequest, dependencies

__all__ = ["InstallIn", "InstalledBotOut", "RegrantIn", "ServerBotsController"]

D = NamedDependency[Domain]
AUDIT_REASON_HEADER = "x-audit-log-reason"
AUDIT_REASON_FIELD = "X-Audit-Log-Reason"

Permissions = Annotated[
    int, Meta(ge=0, le=int(ALL), description="the permission bits granted (as a role's)")
]


def _known_bits(value: int) -> None:
    """Bits between the defined ones pass ``le=ALL`` but mean nothing: refuse them."""
    if value & ~int(ALL):
        raise ValueError(f"unknown permission bits: {value & ~int(ALL)}")


class InstallIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One of the caller's bots (``bot_id``), or a new bot made on the spot (``username``)."""

    permissions: Permissions
    bot_id: Snowflake | None = None
    username: BotUsername | None = None

    def __post_init__(self) -> None:
        _known_bits(self.permissions)


class RegrantIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    permissions: Permissions

    def __post_init__(self) -> None:
        _known_bits(self.permissions)


class InstalledBotOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    server_id: Snowflake
    bot_id: Snowflake
    username: str
    role_id: Snowflake  # its managed role (refused by the role routes)
    permissions: int
    joined_at: datetime
    token: str | None = None  # a bot made on the spot: its token, shown this once


def render(bot: InstalledBot, token: str | None = None) -> InstalledBotOut:
    return InstalledBotOut(
        server_id=bot.server_id,
        bot_id=bot.bot_id,
        username=bot.username,
        role_id=bot.role_id,
        permissions=bot.permissions,
        joined_at=bot.joined_at,
        token=token,
    )


def reason(request: AnyRequest) -> str | None:
    """``X-Audit-Log-Reason`` (URL-encoded, one line of at most 512 characters), as guilds."""
    raw = request.headers.get(AUDIT_REASON_HEADER)
    if raw is None:
        return None
    text = single_line(AUDIT_REASON_FIELD, unquote(raw).strip())
    if len(text) > 512:
        raise BadRequest.for_field(AUDIT_REASON_FIELD, "at most 512 characters")
    return text or None


class ServerBotsController(Controller):
    path = "/api/v1/servers/{server_id:str}/bots"
    tags = ["bots"]
    dependencies = dependencies()

    @post("/", operation_id="installBot", status_code=HTTP_201_CREATED)
    async def install(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[InstallIn],
        domain: D,
    ) -> InstalledBotOut:
        """Install one of the caller's bots, or a new one (its token in the answer, once),
        with exactly ``permissions``: ``MANAGE_SERVER`` and every granted bit are needed."""
        if request.user.kind != "user":
            raise Forbidden("bots cannot install bots", code="users_only")
        if (data.bot_id is None) == (data.username is None):
            raise BadRequest.for_field("bot_id", "give bot_id or username (a new bot), not both")
        done: Installed = await domain.installations.install(
            request.user.user_id,
            server_id,
            data.permissions,
            bot_id=data.bot_id,
            username=data.username,
            reason=reason(request),
        )
        return render(done.bot, done.token)

    @get("/", operation_id="listInstalledBots")
    async def list_bots(
        self, request: UserRequest, server_id: FromPath[Snowflake], domain: D
    ) -> list[InstalledBotOut]:
        bots = await domain.installations.list_all(request.user.user_id, server_id)
        return [render(b) for b in bots]

    @patch("/{bot_id:str}", operation_id="regrantBot")
    async def regrant(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        bot_id: FromPath[Snowflake],
        data: JSONBody[RegrantIn],
        domain: D,
    ) -> InstalledBotOut:
        """Change the grant: the bot's managed role holds exactly the new permissions."""
        bot = await domain.installations.regrant(
            request.user.user_id, server_id, bot_id, data.permissions, reason(request)
        )
        return render(bot)

    @delete("/{bot_id:str}", operation_id="uninstallBot", status_code=HTTP_204_NO_CONTENT)
    async def uninstall(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        bot_id: FromPath[Snowflake],
        domain: D,
    ) -> None:
        """The bot leaves the server and its managed role goes."""
        await domain.installations.uninstall(
            request.user.user_id, server_id, bot_id, reason(request)
        )
