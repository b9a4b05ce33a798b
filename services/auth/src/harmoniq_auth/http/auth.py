"""``/api/v1/auth``: register, login, refresh, logout, logout-all, me, and the public keys."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.auth import Principal
from harmoniq_common.openapi import error_responses

from ..domain.accounts import Accounts
from ..domain.sessions import ClientInfo, Sessions
from ..domain.tokens import TokenPair
from ..store.users import UserRow
from .deps import CREDENTIALS, NO_STORE, TOKENS, dependencies, enforce
from .schemas import AuthResult, Login, Refresh, Register, SelfUser, SessionTokens
from .views import self_user, session_tokens

__all__ = ["AuthController"]

UserRequest = Request[Principal, str, Any]
AnyRequest = Request[Any, Any, Any]


def _auth_result(user: UserRow, tokens: TokenPair) -> AuthResult:
    return AuthResult(user=self_user(user), **msgspec.structs.asdict(session_tokens(tokens)))


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]
    dependencies = dependencies()

    @post(
        "/register",
        operation_id="register",
        exclude_from_auth=True,
        status_code=HTTP_201_CREATED,
        cache_control=NO_STORE,
        responses=error_responses(409),
    )
    async def register(
        self,
        request: AnyRequest,
        data: JSONBody[Register],
        accounts: NamedDependency[Accounts],
        client: NamedDependency[ClientInfo],
    ) -> AuthResult:
        """Create an account and log it in. 5/min per client and per e-mail."""
        await enforce(request, CREDENTIALS, f"ip:{client.ip}", f"acct:{data.email.lower()}")
        return _auth_result(
            *await accounts.register(data.username, data.email, data.password, client)
        )

    @post(
        "/login",
        operation_id="login",
        exclude_from_auth=True,
        status_code=200,
        cache_control=NO_STORE,
        responses=error_responses(401),
    )
    async def login(
        self,
        request: AnyRequest,
        data: JSONBody[Login],
        accounts: NamedDependency[Accounts],
        client: NamedDependency[ClientInfo],
    ) -> AuthResult:
        """A new session for an e-mail (or username) and password. 5/min per client and account."""
        # The client's budget first: the account lookup behind the second key costs a query.
        await enforce(request, CREDENTIALS, f"ip:{client.ip}")
        await enforce(request, CREDENTIALS, await accounts.login_limit_key(data.login))
        return _auth_result(*await accounts.login(data.login, data.password, client))

    @post(
        "/refresh",
        operation_id="refresh",
        exclude_from_auth=True,
        status_code=200,
        cache_control=NO_STORE,
        responses=error_responses(401),
    )
    async def refresh(
        self,
        request: AnyRequest,
        data: JSONBody[Refresh],
        sessions: NamedDependency[Sessions],
        client: NamedDependency[ClientInfo],
    ) -> SessionTokens:
        """Rotate a refresh token: the old one dies, a new pair is returned."""
        await enforce(request, TOKENS, f"ip:{client.ip}")
        return session_tokens(await sessions.refresh(data.refresh_token))

    @post("/logout", operation_id="logout", status_code=HTTP_204_NO_CONTENT)
    async def logout(self, request: UserRequest, sessions: NamedDependency[Sessions]) -> None:
        """End this session: its refresh token and access tokens stop working at once."""
        principal = request.user
        assert principal.session_id is not None
        await sessions.logout(principal.user_id, principal.session_id)

    @post("/logout-all", operation_id="logoutAll", status_code=HTTP_204_NO_CONTENT)
    async def logout_all(self, request: UserRequest, sessions: NamedDependency[Sessions]) -> None:
        """End every session of the caller, on every device."""
        await sessions.logout_all(request.user.user_id)

    @get("/me", operation_id="getMe", responses=error_responses(404))
    async def me(self, request: UserRequest, accounts: NamedDependency[Accounts]) -> SelfUser:
        """The caller's own account."""
        return self_user(await accounts.get(request.user.user_id))

    @get("/jwks", operation_id="getJwks", exclude_from_auth=True, sync_to_thread=False)
    def jwks(self, state: State) -> dict[str, Any]:
        """Public keys (JWKS, RFC 8037 OKP/Ed25519) that verify access tokens."""
        jwks_body: dict[str, Any] = state.jwks
        return jwks_body
