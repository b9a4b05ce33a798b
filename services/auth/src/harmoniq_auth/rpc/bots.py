"""Answers the bots service about bot accounts over NATS request/reply: is this bot the
caller's, and create one on the spot (installing a new bot in a server)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common.consumers import serve
from harmoniq_common.errors import NotFound
from harmoniq_common.installations import (
    BOT_ACCOUNT_CREATE,
    BOT_ACCOUNT_OWNED,
    BotAccount,
    CreateBotAccount,
    NewBotAccount,
    OwnedBotAccount,
)
from harmoniq_common.platform import Platform
from harmoniq_common.ratelimit import RateLimit

from ..domain.bots import Bots
from ..http.deps import CREDENTIALS
from ..settings import AuthSettings
from ..store import bots as store

__all__ = ["serve_bot_accounts"]


async def serve_bot_accounts(
    platform: Platform, settings: AuthSettings, bots: Bots
) -> list[Subscription]:
    async def owned(question: OwnedBotAccount) -> BotAccount:
        async with platform.pool.acquire() as conn:
            bot = await store.get_owned(conn, question.owner_id, question.bot_id)
        if bot is None:  # someone else's bot looks the same as no bot
            raise NotFound("no such bot", code="unknown_bot")
        return BotAccount(id=bot.id, username=bot.username)

    async def create(question: CreateBotAccount) -> NewBotAccount:
        # The owner's credential budget, as POST /api/v1/bots spends it (429 with its
        # Retry-After, passed on by the asking service).
        rule = RateLimit(CREDENTIALS, settings.auth_rate_limit, settings.auth_rate_period_seconds)
        await platform.limiter.enforce(rule, f"acct:{question.owner_id}")
        bot, token = await bots.create(question.owner_id, question.username)
        return NewBotAccount(id=bot.id, username=bot.username, token=token)

    return [
        await serve(
            platform.nats,
            platform.subjects.rpc("auth", BOT_ACCOUNT_OWNED),
            OwnedBotAccount,
            owned,
            queue="auth",
        ),
        await serve(
            platform.nats,
            platform.subjects.rpc("auth", BOT_ACCOUNT_CREATE),
            CreateBotAccount,
            create,
            queue="auth",
        ),
    ]
