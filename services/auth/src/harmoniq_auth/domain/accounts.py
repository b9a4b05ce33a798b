"""Account decisions: register, log in, change the profile or password, delete, purge.

Each method is one transaction (a unit of work) that writes its events to the outbox; slow
argon2 work happens before the transaction opens so no connection waits on a hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from harmoniq_common.errors import BadRequest, Conflict, FieldError, NotFound, Unauthorized
from harmoniq_common.events import UserCreated, UserDeleted, UserSummary, UserUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..settings import AuthSettings
from ..store import users
from .avatars import link_avatar
from .bots import Bots
from .passwords import Passwords
from .sessions import ClientInfo, Sessions
from .tokens import TokenPair

__all__ = ["Accounts", "ProfileChange"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProfileChange:
    username: str | None = None
    avatar_url: str | None = None
    clear_avatar: bool = False
    avatar_media_id: int | None = None  # an upload, linked by media
    status: str | None = None
    new_password: str | None = None
    current_password: str | None = None


def summary(user: users.UserRow) -> UserSummary:
    return UserSummary(id=user.id, username=user.username, avatar_url=user.avatar_url)


def _wrong_password(field: str) -> BadRequest:
    # 400, not 401: the caller is authenticated; a 401 would make clients drop their session.
    return BadRequest(
        "wrong password", code="invalid_password", errors=[FieldError(field, "wrong password")]
    )


def _taken(field: str) -> Conflict:
    message = f"this {field} is already taken"
    return Conflict(message, code=f"{field}_taken", errors=[FieldError(field, message)])


class Accounts:
    def __init__(
        self,
        platform: Platform,
        settings: AuthSettings,
        passwords: Passwords,
        sessions: Sessions,
        bots: Bots,
    ) -> None:
        self._platform = platform
        self._settings = settings
        self._passwords = passwords
        self._sessions = sessions
        self._bots = bots

    async def register(
        self, username: str, email: str, password: str, client: ClientInfo
    ) -> tuple[users.UserRow, TokenPair]:
        password_hash = await self._passwords.hash(password)
        async with unit_of_work(self._platform) as tx:
            try:
                user = await users.insert(
                    tx.conn, self._platform.new_id(), username, email.lower(), password_hash
                )
            except users.UsernameTaken:
                raise _taken("username") from None
            except users.EmailTaken:
                raise _taken("email") from None
            await tx.emit_user(user.id, UserCreated(user=summary(user), created_at=user.created_at))
            tokens = await self._sessions.open(tx, user.id, client)
        log.info("account.registered", user_id=user.id)
        return user, tokens

    async def login_limit_key(self, login: str) -> str:
        """The per-account rate-limit key of a login attempt: the account's id, whichever of its
        names was typed and in any case (the key password changes and deletion use too); for a
        name no account has, the name as typed, case-folded, in a space ids cannot collide with."""
        async with self._platform.pool.acquire() as conn:
            user = await users.find_by_login(conn, login)
        return f"acct:{user.id}" if user is not None else f"name:{login.casefold()}"

    async def login(
        self, login: str, password: str, client: ClientInfo
    ) -> tuple[users.UserRow, TokenPair]:
        async with self._platform.pool.acquire() as conn:
            user = await users.find_by_login(conn, login)
        stored = user.password_hash if user else None
        if not await self._passwords.verify(stored, password) or user is None:
            raise Unauthorized("wrong login or password", code="invalid_credentials")
        async with unit_of_work(self._platform) as tx:
            if stored and self._passwords.needs_rehash(stored):
                await users.rehash_password(tx.conn, user.id, await self._passwords.hash(password))
            tokens = await self._sessions.open(tx, user.id, client)
        return user, tokens

    async def get(self, user_id: int) -> users.UserRow:
        async with self._platform.pool.acquire() as conn:
            user = await users.get(conn, user_id)
        if user is None or user.deleted_at is not None:
            raise NotFound("no such user", code="unknown_user")
        return user

    async def update(
        self, user_id: Snowflake, change: ProfileChange, client: ClientInfo
    ) -> tuple[users.UserRow, TokenPair | None]:
        """Profile fields, and the password when the current one is given with the new one.

        A password change kills every session (and so every access token) and opens a new
        session for the caller, whose new tokens are returned.
        """
        new_hash = None
        if change.new_password is not None:
            current = await self.get(user_id)
            if change.current_password is None:
                raise BadRequest.for_field("current_password", "required to change the password")
            if not await self._passwords.verify(current.password_hash, change.current_password):
                raise _wrong_password("current_password")
            new_hash = await self._passwords.hash(change.new_password)
        async with unit_of_work(self._platform) as tx:
            user = await users.get(tx.conn, user_id, for_update=True)
            if user is None or user.deleted_at is not None:
                raise NotFound("no such user", code="unknown_user")
            try:
                user = await users.update_profile(
                    tx.conn,
                    user_id,
                    username=change.username,
                    avatar_url=change.avatar_url,
                    clear_avatar=change.clear_avatar,
                    status=change.status,
                )
            except users.UsernameTaken:
                raise _taken("username") from None
            if change.avatar_media_id is not None:
                # Asked once the rest of the change is known to apply: media releases the
                # previous avatar when it links this one.
                url = await link_avatar(self._platform, user_id, change.avatar_media_id)
                user = await users.update_profile(
                    tx.conn,
                    user_id,
                    username=None,
                    avatar_url=url,
                    clear_avatar=False,
                    status=None,
                )
            tokens = None
            if new_hash is not None:
                revoked_before = datetime.now(UTC)
                await users.set_password(tx.conn, user_id, new_hash, revoked_before)
                await self._sessions.revoke_everything(
                    tx, user_id, revoked_before, "password_changed"
                )
                tokens = await self._sessions.open(tx, user_id, client)
            await tx.emit_user(user_id, UserUpdated(user=summary(user), status=user.status))
        return user, tokens

    async def delete(self, user_id: Snowflake, password: str) -> None:
        current = await self.get(user_id)
        if not await self._passwords.verify(current.password_hash, password):
            raise _wrong_password("password")
        async with unit_of_work(self._platform) as tx:
            await self._delete(tx, user_id)
        log.info("account.deleted", user_id=user_id)

    async def _delete(self, tx: UnitOfWork, user_id: Snowflake) -> None:
        now = datetime.now(UTC)
        await users.anonymise(tx.conn, user_id, now)
        await self._sessions.revoke_everything(tx, user_id, now, "account_deleted")
        await tx.emit_user(user_id, UserDeleted(user_id=user_id, deleted_at=now))
        for bot_id in await self._bots.owned_ids(tx, user_id):  # nobody could manage them
            await self._bots.delete_in(tx, bot_id)

    async def purge(self, *, batch: int = 500) -> int:
        """Remove accounts deleted longer ago than the retention period; returns the count."""
        cutoff = datetime.now(UTC) - timedelta(days=self._settings.deleted_account_retention_days)
        total = 0
        while True:
            async with self._platform.pool.acquire() as conn, conn.transaction():
                removed = await users.purge_deleted(conn, cutoff, batch)
            total += removed
            if removed < batch:
                break
        if total:
            log.info("account.purged", count=total)
        return total
