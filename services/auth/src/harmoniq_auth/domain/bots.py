"""Bot accounts: made by a user, who holds their token; reset or deleted by that user only.

A bot is a user without e-mail or password: it joins servers by invite, gets permissions from
the roles members give it there, and every other service sees an ordinary member and author.
Its token ``<bot id>.<secret>`` is shown once; only its digest is kept, in Postgres and (for
every service to check) in Redis, written after the commit. Resetting or deleting a bot makes
the old token fail at once everywhere and closes the bot's gateway connections.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import asyncpg
import structlog

from harmoniq_common.auth import BotTokens
from harmoniq_common.errors import BadRequest, Conflict, FieldError, NotFound
from harmoniq_common.events import UserCreated, UserDeleted, UserSessionsRevoked, UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..store import bots, users

__all__ = ["Bots"]

log = structlog.get_logger(__name__)


def _new_token(bot_id: int) -> str:
    return f"{bot_id}.{secrets.token_urlsafe(32)}"


class Bots:
    def __init__(self, platform: Platform, *, limit_per_owner: int) -> None:
        self._platform = platform
        self._tokens = BotTokens(platform.redis, platform.subjects.namespace)
        self._limit = limit_per_owner

    async def create(self, owner_id: Snowflake, username: str) -> tuple[bots.BotRow, str]:
        bot_id = self._platform.new_id()
        token = _new_token(bot_id)
        digest = BotTokens.digest(token)
        async with unit_of_work(self._platform) as tx:
            # Serialises one owner's creations, so the limit holds under concurrency.
            await users.get(tx.conn, owner_id, for_update=True)
            if await bots.count_owned(tx.conn, owner_id) >= self._limit:
                raise BadRequest(f"at most {self._limit} bots per account", code="too_many_bots")
            try:
                bot = await bots.insert(tx.conn, bot_id, owner_id, username, digest)
            except users.UsernameTaken:
                message = "this username is already taken"
                raise Conflict(
                    message, code="username_taken", errors=[FieldError("username", message)]
                ) from None
            await tx.emit_user(
                bot.id,
                UserCreated(
                    user=UserSummary(id=bot.id, username=bot.username, avatar_url=None),
                    created_at=bot.created_at,
                ),
            )
            tx.after_commit(lambda: self._tokens.store(bot_id, digest))
        log.info("bot.created", bot_id=bot.id, owner_id=owner_id)
        return bot, token

    async def owned(self, owner_id: Snowflake) -> list[bots.BotRow]:
        async with self._platform.pool.acquire() as conn:
            return await bots.owned_by(conn, owner_id)

    async def reset_token(self, owner_id: Snowflake, bot_id: Snowflake) -> str:
        token = _new_token(bot_id)
        digest = BotTokens.digest(token)
        async with unit_of_work(self._platform) as tx:
            await self._owned(tx, owner_id, bot_id)
            await bots.set_token(tx.conn, bot_id, digest)
            await self._revoke_connections(tx, bot_id, "bot_token_reset")
            tx.after_commit(lambda: self._tokens.store(bot_id, digest))
        log.info("bot.token_reset", bot_id=bot_id)
        return token

    async def delete(self, owner_id: Snowflake, bot_id: Snowflake) -> None:
        async with unit_of_work(self._platform) as tx:
            await self._owned(tx, owner_id, bot_id)
            await self.delete_in(tx, bot_id)
        log.info("bot.deleted", bot_id=bot_id)

    async def delete_in(self, tx: UnitOfWork, bot_id: Snowflake) -> None:
        """Within a transaction (an owner's account deletion takes their bots with it)."""
        now = datetime.now(UTC)
        await users.anonymise(tx.conn, bot_id, now)
        await bots.forget_token(tx.conn, bot_id)
        await self._revoke_connections(tx, bot_id, "bot_deleted")
        await tx.emit_user(bot_id, UserDeleted(user_id=bot_id, deleted_at=now))
        tx.after_commit(lambda: self._tokens.forget(bot_id))

    async def owned_ids(self, tx: UnitOfWork, owner_id: Snowflake) -> list[Snowflake]:
        return [bot.id for bot in await bots.owned_by(tx.conn, owner_id)]

    async def restore_tokens(self, conn: asyncpg.Connection) -> int:
        """Rewrite every live bot's digest in Redis, and remove dead bots' (Redis may have
        been lost, or a removal may not have happened after its commit). The caller holds
        the exclusive token lock (:func:`bots.lock_tokens_exclusive`)."""
        live = await bots.live_tokens(conn)
        dead = await bots.dead(conn)
        for bot_id, digest in live:
            await self._tokens.store(bot_id, digest)
        for bot_id in dead:
            await self._tokens.forget(bot_id)
        return len(live)

    async def _owned(self, tx: UnitOfWork, owner_id: int, bot_id: int) -> bots.BotRow:
        bot = await bots.get_owned(tx.conn, owner_id, bot_id, for_update=True)
        if bot is None:  # someone else's bot looks the same as no bot
            raise NotFound("no such bot", code="unknown_bot")
        return bot

    async def _revoke_connections(self, tx: UnitOfWork, bot_id: Snowflake, reason: str) -> None:
        await tx.emit_user(
            bot_id,
            UserSessionsRevoked(user_id=bot_id, revoked_before=datetime.now(UTC), reason=reason),
        )
