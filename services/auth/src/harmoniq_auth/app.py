"""The auth service application: ``uvicorn --factory harmoniq_auth.app:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import structlog
from litestar import Litestar

from harmoniq_common.app import create_service_app
from harmoniq_common.auth import load_public_keys_file
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .domain.accounts import Accounts
from .domain.bots import Bots
from .domain.passwords import Passwords
from .domain.revocation import RevocationState
from .domain.sessions import Sessions
from .domain.tokens import AccessTokenIssuer, jwks
from .http.auth import AuthController
from .http.bots import BotsController
from .http.users import UsersController
from .rpc.bots import serve_bot_accounts
from .rpc.users import serve_users
from .settings import AuthSettings

__all__ = ["create_app"]

log = structlog.get_logger(__name__)


def _domain(
    settings: AuthSettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        issuer = AccessTokenIssuer(
            settings.jwt_private_key_file,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_seconds=settings.access_token_ttl_seconds,
        )
        public_keys = load_public_keys_file(settings.jwt_public_key_file)
        if issuer.kid not in public_keys:
            raise RuntimeError("the signing key's public half is not in the public key file")
        passwords = Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        sessions = Sessions(platform, settings, issuer)
        bots = Bots(platform, limit_per_owner=settings.bots_per_account)
        accounts = Accounts(platform, settings, passwords, sessions, bots)
        app.state.accounts = accounts
        app.state.sessions = sessions
        app.state.bots = bots
        app.state.jwks = jwks(public_keys)
        revocation = RevocationState(
            platform, sessions, bots, interval=settings.revocation_check_interval_seconds
        )
        await revocation.start()
        app.state.revocation = revocation
        purger = asyncio.create_task(_purge_forever(accounts, settings.purge_interval_seconds))
        users_rpc = await serve_users(platform)
        bots_rpc = await serve_bot_accounts(platform, settings, bots)
        try:
            yield
        finally:
            await users_rpc.unsubscribe()
            for subscription in bots_rpc:
                await subscription.unsubscribe()
            await revocation.stop()
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger

    return extend


async def _purge_forever(accounts: Accounts, interval: float) -> None:
    while True:
        try:
            await accounts.purge()
        except Exception:
            log.warning("account.purge_failed", exc_info=True)
        await asyncio.sleep(interval)


def create_app(settings: AuthSettings | None = None) -> Litestar:
    settings = settings or load_settings(AuthSettings)
    app = create_service_app(
        settings,
        route_handlers=[AuthController, UsersController, BotsController],
        title="Harmoniq auth",
        extend=_domain(settings),
    )
    return app
