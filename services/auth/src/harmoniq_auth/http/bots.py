"""``/api/v1/bots``: the caller's bot accounts (create, list, reset the token, delete)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from harmoniq_common.auth import Principal
from harmoniq_common.errors import Forbidden
from harmoniq_common.ids import Snowflake
from harmoniq_common.openapi import error_responses

from ..domain.bots import Bots
from ..store.bots import BotRow
from .deps import CREDENTIALS, NO_STORE, dependencies, enforce
from .schemas import BotToken, BotView, CreateBot, CreatedBot

__all__ = ["BotsController"]

UserRequest = Request[Principal, str, Any]


def _owner(request: UserRequest) -> Snowflake:
    if request.user.kind != "user":
        raise Forbidden("bots cannot manage bots", code="users_only")
    return request.user.user_id


def _view(bot: BotRow) -> BotView:
    return BotView(
        id=bot.id,
        username=bot.username,
        avatar_url=bot.avatar_url,
        owner_id=bot.owner_id,
        created_at=bot.created_at,
    )


class BotsController(Controller):
    path = "/api/v1/bots"
    tags = ["bots"]
    dependencies = dependencies()

    @post("", operation_id="createBot", cache_control=NO_STORE, responses=error_responses(409))
    async def create_bot(
        self, request: UserRequest, data: JSONBody[CreateBot], bots: NamedDependency[Bots]
    ) -> CreatedBot:
        """A bot account owned by the caller, and its token (shown this once)."""
        owner = _owner(request)
        await enforce(request, CREDENTIALS, f"acct:{owner}")
        bot, token = await bots.create(owner, data.username)
        return CreatedBot(bot=_view(bot), token=token)

    @get("", operation_id="listBots")
    async def list_bots(self, request: UserRequest, bots: NamedDependency[Bots]) -> list[BotView]:
        """The caller's bots (never their tokens)."""
        return [_view(bot) for bot in await bots.owned(_owner(request))]

    @post(
        "/{bot_id:str}/token",
        operation_id="resetBotToken",
        status_code=HTTP_200_OK,
        cache_control=NO_STORE,
    )
    async def reset_token(
        self, request: UserRequest, bot_id: FromPath[Snowflake], bots: NamedDependency[Bots]
    ) -> BotToken:
        """A new token; the old one stops working at once and the bot's sockets close."""
        owner = _owner(request)
        await enforce(request, CREDENTIALS, f"acct:{owner}")
        return BotToken(token=await bots.reset_token(owner, bot_id))

    @delete("/{bot_id:str}", operation_id="deleteBot", status_code=HTTP_204_NO_CONTENT)
    async def delete_bot(
        self, request: UserRequest, bot_id: FromPath[Snowflake], bots: NamedDependency[Bots]
    ) -> None:
        """Delete the bot: its token dies at once; it leaves every server."""
        await bots.delete(_owner(request), bot_id)
