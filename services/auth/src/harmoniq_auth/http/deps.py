"""One-line providers for the auth controllers, and the rate-limit rules they enforce."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import CacheControlHeader, State
from litestar.di import Provide

from harmoniq_common.platform import client_address
from harmoniq_common.ratelimit import RateLimit, limit_request

from ..domain.accounts import Accounts
from ..domain.bots import Bots
from ..domain.sessions import ClientInfo, Sessions
from ..settings import AuthSettings

__all__ = ["CREDENTIALS", "NO_STORE", "TOKENS", "dependencies", "enforce"]

CREDENTIALS = "credentials"  # register, login, password change, deletion
TOKENS = "tokens"  # refresh
# On every response that carries a token (RFC 6749 5.1): no browser, proxy or CDN may keep it.
NO_STORE = CacheControlHeader(no_store=True)


def provide_accounts(state: State) -> Accounts:
    accounts: Accounts = state.accounts
    return accounts


def provide_bots(state: State) -> Bots:
    bots: Bots = state.bots
    return bots


def provide_sessions(state: State) -> Sessions:
    sessions: Sessions = state.sessions
    return sessions


def provide_client(request: Request[Any, Any, Any]) -> ClientInfo:
    trusted = request.app.state.platform.settings.trusted_proxies
    agent = request.headers.get("user-agent")
    return ClientInfo(
        ip=client_address(request, trusted), user_agent=agent[:256] if agent else None
    )


def _rule(settings: AuthSettings, name: str) -> RateLimit:
    if name == CREDENTIALS:
        return RateLimit(name, settings.auth_rate_limit, settings.auth_rate_period_seconds)
    return RateLimit(name, settings.token_rate_limit, settings.token_rate_period_seconds)


async def enforce(request: Request[Any, Any, Any], name: str, *keys: str) -> None:
    """Apply the named limit to this request (429 past it; headers on every response)."""
    platform = request.app.state.platform
    await limit_request(request, platform.limiter, _rule(platform.settings, name), *keys)


def dependencies() -> dict[str, Provide]:
    return {
        "accounts": Provide(provide_accounts, sync_to_thread=False),
        "sessions": Provide(provide_sessions, sync_to_thread=False),
        "bots": Provide(provide_bots, sync_to_thread=False),
        "client": Provide(provide_client, sync_to_thread=False),
    }
