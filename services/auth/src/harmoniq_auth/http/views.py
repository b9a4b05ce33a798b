"""Domain rows to API bodies."""

from __future__ import annotations

from ..domain.tokens import TokenPair
from ..store.users import UserRow
from .schemas import PublicUser, SelfUser, SessionTokens

__all__ = ["public_user", "self_user", "session_tokens"]


def public_user(user: UserRow) -> PublicUser:
    return PublicUser(
        id=user.id, username=user.username, avatar_url=user.avatar_url, created_at=user.created_at
    )


def self_user(user: UserRow) -> SelfUser:
    return SelfUser(
        id=user.id,
        username=user.username,
        avatar_url=user.avatar_url,
        created_at=user.created_at,
        email=user.email,
        status=user.status,  # type: ignore[arg-type]  # the CHECK constraint keeps it in Status
    )


def session_tokens(tokens: TokenPair) -> SessionTokens:
    return SessionTokens(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )
