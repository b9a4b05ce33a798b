"""Sessions and tokens: open, rotate (with reuse detection), revoke.

A session is one login on one device; its refresh tokens form a chain (a family) in which each
token is used exactly once. Presenting a token that was already used means it was copied: the
whole session is revoked at once, and the rightful holder must log in again (RFC 6819 §5.2.2.3).

Two clocks end a session: a refresh token unused for ``refresh_token_ttl_seconds`` dies (idle),
and the family as a whole dies ``refresh_family_max_age_seconds`` after the login (absolute),
however often it was rotated: ``sessions.expires_at`` is written once, at login, and every token
of the family expires no later than it. A stolen family therefore lives at most that long.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog

from harmoniq_common.errors import Unauthorized
from harmoniq_common.events import UserSessionsRevoked
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..settings import AuthSettings
from ..store import sessions, users
from .tokens import AccessTokenIssuer, TokenPair, hash_refresh_token, new_refresh_token

__all__ = ["ClientInfo", "Sessions"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Sessions:
    def __init__(self, platform: Platform, settings: AuthSettings, issuer: AccessTokenIssuer):
        self._platform = platform
        self._settings = settings
        self._issuer = issuer
        # A revocation mark must outlive every access token it kills.
        self._mark_ttl = settings.access_token_ttl_seconds + 60

    async def open(self, tx: UnitOfWork, user_id: Snowflake, client: ClientInfo) -> TokenPair:
        session_id = self._platform.new_id()
        now = datetime.now(UTC)
        family_ends = now + timedelta(seconds=self._settings.refresh_family_max_age_seconds)
        await sessions.create(
            tx.conn,
            session_id,
            user_id,
            family_ends,
            client.user_agent,
            (client.ip or "")[:64] or None,
        )
        return await self._mint(tx, user_id, session_id, now, family_ends)

    async def _mint(
        self, tx: UnitOfWork, user_id: int, session_id: int, now: datetime, family_ends: datetime
    ) -> TokenPair:
        refresh = new_refresh_token()
        idle_ends = now + timedelta(seconds=self._settings.refresh_token_ttl_seconds)
        await sessions.add_refresh_token(
            tx.conn, hash_refresh_token(refresh), session_id, min(idle_ends, family_ends)
        )
        return TokenPair(
            access_token=self._issuer.issue(user_id, session_id),
            refresh_token=refresh,
            expires_in=self._issuer.ttl_seconds,
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        token_hash = hash_refresh_token(refresh_token)
        reused: tuple[Snowflake, Snowflake] | None = None
        async with unit_of_work(self._platform) as tx:
            row = await sessions.lock_refresh_token(tx.conn, token_hash)
            now = datetime.now(UTC)
            if row is None or row.session_revoked_at is not None:
                raise Unauthorized("invalid refresh token", code="invalid_refresh_token")
            if row.used_at is not None:
                await self._revoke_session(tx, row.user_id, row.session_id, "refresh_token_reused")
                reused = (row.user_id, row.session_id)
            elif row.session_expires_at <= now:
                raise Unauthorized(
                    "the session reached its maximum age; log in again",
                    code="refresh_token_expired",
                )
            elif row.token_expires_at <= now:
                raise Unauthorized("refresh token expired", code="refresh_token_expired")
            else:
                user = await users.get(tx.conn, row.user_id)
                if user is None or user.deleted_at is not None:
                    raise Unauthorized("invalid refresh token", code="invalid_refresh_token")
                await sessions.mark_used(tx.conn, token_hash, row.session_id)
                # The family's end never moves: a rotation renews the idle clock only.
                return await self._mint(
                    tx, row.user_id, row.session_id, now, row.session_expires_at
                )
        # Reached only on reuse, after the revocation has committed.
        log.warning("session.refresh_token_reused", user_id=reused[0], session_id=reused[1])
        raise Unauthorized(
            "refresh token already used; the session has been revoked",
            code="refresh_token_reused",
        )

    async def logout(self, user_id: Snowflake, session_id: Snowflake) -> None:
        async with unit_of_work(self._platform) as tx:
            await self._revoke_session(tx, user_id, session_id, "logout")

    async def logout_all(self, user_id: Snowflake) -> None:
        async with unit_of_work(self._platform) as tx:
            await self.revoke_everything(tx, user_id, datetime.now(UTC), "logout_all")

    async def _revoke_session(
        self, tx: UnitOfWork, user_id: Snowflake, session_id: Snowflake, reason: str
    ) -> None:
        await sessions.revoke(tx.conn, session_id, reason)
        now = datetime.now(UTC)
        await tx.emit_user(
            user_id,
            UserSessionsRevoked(
                user_id=user_id, session_id=session_id, revoked_before=now, reason=reason
            ),
        )
        tx.after_commit(lambda: self._platform.marks.revoke_session(session_id, self._mark_ttl))

    async def revoke_everything(
        self, tx: UnitOfWork, user_id: Snowflake, before: datetime, reason: str
    ) -> None:
        """Every session and every access token issued before ``before``."""
        await sessions.revoke_all(tx.conn, user_id, reason)
        await users.revoke_tokens_before(tx.conn, user_id, before)
        await tx.emit_user(
            user_id, UserSessionsRevoked(user_id=user_id, revoked_before=before, reason=reason)
        )
        tx.after_commit(
            lambda: self._platform.marks.revoke_user(user_id, _ms(before), self._mark_ttl)
        )

    async def restore_marks(self, conn: asyncpg.Connection) -> int:
        """Rewrite the Redis marks still in force from Postgres (Redis may have been lost)."""
        since = datetime.now(UTC) - timedelta(seconds=self._mark_ttl)
        revoked_users = await users.recently_revoked(conn, since)
        revoked_sessions = await sessions.recently_revoked(conn, since)
        for user_id, before in revoked_users:
            await self._platform.marks.revoke_user(user_id, _ms(before), self._mark_ttl)
        for session_id in revoked_sessions:
            await self._platform.marks.revoke_session(session_id, self._mark_ttl)
        return len(revoked_users) + len(revoked_sessions)
