"""``/api/v1/users``: the caller's profile (change, delete) and other users' public profiles."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from harmoniq_common.auth import Principal
from harmoniq_common.errors import BadRequest
from harmoniq_common.ids import Snowflake
from harmoniq_common.openapi import error_responses

from ..domain.accounts import Accounts, ProfileChange
from ..domain.sessions import ClientInfo
from .deps import CREDENTIALS, NO_STORE, dependencies, enforce
from .schemas import DeleteAccount, ProfileUpdate, PublicUser, UpdatedSelf
from .views import public_user, self_user, session_tokens

__all__ = ["UsersController"]

UserRequest = Request[Principal, str, Any]


class UsersController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    dependencies = dependencies()

    # no-store: a password change answers with new tokens
    @patch(
        "/me", operation_id="updateMe", cache_control=NO_STORE, responses=error_responses(404, 409)
    )
    async def update_me(
        self,
        request: UserRequest,
        data: JSONBody[ProfileUpdate],
        accounts: NamedDependency[Accounts],
        client: NamedDependency[ClientInfo],
    ) -> UpdatedSelf:
        """Change username, avatar, status, and/or password (with ``current_password``)."""
        change = _profile_change(data)
        if change.new_password is not None:
            await enforce(request, CREDENTIALS, f"ip:{client.ip}", f"acct:{request.user.user_id}")
        user, tokens = await accounts.update(request.user.user_id, change, client)
        return UpdatedSelf(
            **msgspec.structs.asdict(self_user(user)),
            tokens=session_tokens(tokens) if tokens else None,
        )

    @delete("/me", operation_id="deleteMe", status_code=HTTP_204_NO_CONTENT)
    async def delete_me(
        self,
        request: UserRequest,
        data: JSONBody[DeleteAccount],
        accounts: NamedDependency[Accounts],
        client: NamedDependency[ClientInfo],
    ) -> None:
        """Delete the account: disabled at once, personal data anonymised, purged in 30 days."""
        await enforce(request, CREDENTIALS, f"ip:{client.ip}", f"acct:{request.user.user_id}")
        await accounts.delete(request.user.user_id, data.password)

    @get("/{user_id:str}", operation_id="getUser")
    async def get_user(
        self, user_id: FromPath[Snowflake], accounts: NamedDependency[Accounts]
    ) -> PublicUser:
        """Another user's public profile."""
        return public_user(await accounts.get(user_id))


def _profile_change(data: ProfileUpdate) -> ProfileChange:
    if data.current_password is not msgspec.UNSET and data.password is msgspec.UNSET:
        raise BadRequest.for_field("password", "current_password is only for a password change")
    if all(
        value is msgspec.UNSET
        for value in (data.username, data.avatar_url, data.avatar, data.status, data.password)
    ):
        raise BadRequest("nothing to change")
    if data.avatar is not msgspec.UNSET and data.avatar_url is not msgspec.UNSET:
        raise BadRequest.for_field("avatar", "give avatar or avatar_url, not both")
    return ProfileChange(
        username=None if data.username is msgspec.UNSET else data.username,
        avatar_url=data.avatar_url if isinstance(data.avatar_url, str) else None,
        clear_avatar=data.avatar_url is None,
        avatar_media_id=None if data.avatar is msgspec.UNSET else data.avatar,
        status=None if data.status is msgspec.UNSET else data.status,
        new_password=None if data.password is msgspec.UNSET else data.password,
        current_password=(
            None if data.current_password is msgspec.UNSET else data.current_password
        ),
    )
