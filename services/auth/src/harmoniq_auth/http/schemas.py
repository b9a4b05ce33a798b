"""Request and response bodies of the auth API, with every limit users may hit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from harmoniq_common.ids import Snowflake
from harmoniq_common.validation import SingleLine, anchored

__all__ = [
    "BotToken",
    "BotView",
    "CreateBot",
    "CreatedBot",
    "DeleteAccount",
    "Login",
    "PasswordField",
    "ProfileUpdate",
    "PublicUser",
    "Refresh",
    "Register",
    "SelfUser",
    "SessionTokens",
    "UpdatedSelf",
]

# Letters, digits, '_', '.', '-'; must start and end with a letter, digit or '_'. ASCII only,
# so no two usernames look alike; unique case-insensitively (docs/decisions.md).
Username = Annotated[
    str,
    Meta(
        min_length=2,
        max_length=32,
        pattern=anchored(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,30}[A-Za-z0-9_])?"),
        description="2-32 characters: letters, digits, '_', '.', '-'",
    ),
]
_ADDRESS_CHAR = r"[^@\s\x00-\x1f\x7f-\x9f]"
Email = Annotated[
    str,
    Meta(
        max_length=254,
        pattern=anchored(f"{_ADDRESS_CHAR}{{1,64}}@{_ADDRESS_CHAR}+\\.{_ADDRESS_CHAR}+"),
        description="an e-mail address",
    ),
]
# Never stored or shown (only its argon2 hash), so any character but NUL; bounded above so
# nobody can make the server hash megabytes.
_Secret = Annotated[str, Meta(pattern=anchored(r"[^\x00]*"))]
PasswordField = Annotated[_Secret, Meta(min_length=8, max_length=128)]
GivenPassword = Annotated[_Secret, Meta(min_length=1, max_length=128)]
AvatarUrl = Annotated[
    str, Meta(max_length=2048, pattern=anchored(r"https?://[^\s\x00-\x1f\x7f-\x9f]+"))
]
Status = Literal["online", "idle", "dnd", "invisible"]


class Register(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Username
    email: Email
    password: PasswordField


class Login(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    login: Annotated[
        SingleLine, Meta(min_length=1, max_length=254, description="e-mail or username")
    ]
    password: GivenPassword


class Refresh(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    refresh_token: Annotated[
        str, Meta(min_length=1, max_length=256, pattern=anchored(r"[A-Za-z0-9_-]+"))
    ]


class ProfileUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Every field optional; ``avatar_url: null`` removes the avatar."""

    username: Username | msgspec.UnsetType = msgspec.UNSET
    avatar_url: AvatarUrl | msgspec.UnsetType | None = msgspec.UNSET
    # An upload of the caller's (purpose "avatar"): its media URL becomes avatar_url.
    avatar: Snowflake | msgspec.UnsetType = msgspec.UNSET
    status: Status | msgspec.UnsetType = msgspec.UNSET
    password: PasswordField | msgspec.UnsetType = msgspec.UNSET
    current_password: GivenPassword | msgspec.UnsetType = msgspec.UNSET


class DeleteAccount(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    password: GivenPassword


class PublicUser(msgspec.Struct, kw_only=True):
    id: Snowflake
    username: str
    avatar_url: str | None
    created_at: datetime


class SelfUser(PublicUser, kw_only=True):
    email: str | None
    status: Status


class SessionTokens(msgspec.Struct, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int


class AuthResult(SessionTokens, kw_only=True):
    user: SelfUser


class UpdatedSelf(SelfUser, kw_only=True):
    """The profile, plus new tokens when the password changed (the old ones are dead)."""

    tokens: SessionTokens | None = None


class CreateBot(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Username


class BotView(msgspec.Struct, kw_only=True):
    id: Snowflake
    username: str
    avatar_url: str | None
    owner_id: Snowflake
    created_at: datetime


class BotToken(msgspec.Struct, kw_only=True):
    """Shown once: only its digest is kept. Send it as ``Authorization: Bot <token>``."""

    token: str


class CreatedBot(BotToken, kw_only=True):
    bot: BotView
