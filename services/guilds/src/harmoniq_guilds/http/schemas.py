"""Request and response bodies of the guilds API, with their limits."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from harmoniq_common.events import ChannelView, ServerView
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import ALL
from harmoniq_common.validation import SingleLine, Text, anchored

__all__ = [
    "BanCreate",
    "ChannelCreate",
    "ChannelDetail",
    "ChannelPosition",
    "ChannelUpdate",
    "InviteCreate",
    "InvitePreview",
    "InviteView",
    "JoinServer",
    "MemberUpdate",
    "OverwriteSet",
    "RoleCreate",
    "RoleUpdate",
    "ServerCreate",
    "ServerDetail",
    "ServerPreview",
    "ServerUpdate",
    "Transfer",
]

# Names show as typed: no control characters (harmoniq_common.validation).
Name = Annotated[SingleLine, Meta(min_length=1, max_length=100)]
Description = Annotated[Text, Meta(max_length=1000)]
IconId = Annotated[str, Meta(min_length=1, max_length=128, pattern=anchored(r"[A-Za-z0-9_.-]+"))]
Topic = Annotated[SingleLine, Meta(max_length=1024)]
Permissions = Annotated[int, Meta(ge=0, le=int(ALL))]
Color = Annotated[int, Meta(ge=0, le=0xFFFFFF)]
Nickname = Annotated[SingleLine, Meta(min_length=1, max_length=32)]
Reason = Annotated[SingleLine, Meta(max_length=512)]
InviteCode = Annotated[str, Meta(min_length=1, max_length=32, pattern=anchored(r"[A-Za-z0-9]+"))]


class ServerCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    description: Description | None = None
    icon_id: IconId | None = None


class ServerUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    icon_id: IconId | UnsetType | None = UNSET
    # An upload of the caller's (purpose "icon"): linked by media, it becomes icon_id.
    icon: Snowflake | UnsetType = UNSET


class Transfer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    owner_id: Snowflake


class ServerDetail(ServerView, frozen=True, kw_only=True):
    member_count: int
    permissions: int  # the caller's server-level permissions


# Voice channels only: at most this many users at once (0: no limit), and the audio bitrate.
UserLimit = Annotated[int, Meta(ge=0, le=99)]
Bitrate = Annotated[int, Meta(ge=8000, le=384_000)]


class ChannelCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    kind: Literal["text", "voice", "category"] = "text"
    topic: Topic | None = None
    parent_id: Snowflake | None = None
    user_limit: UserLimit | None = None
    bitrate: Bitrate | None = None


class ChannelUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    topic: Topic | UnsetType | None = UNSET
    parent_id: Snowflake | UnsetType | None = UNSET
    user_limit: UserLimit | UnsetType = UNSET
    bitrate: Bitrate | UnsetType = UNSET


class ChannelPosition(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    id: Snowflake
    position: Annotated[int, Meta(ge=0, le=10_000)]


class ChannelDetail(ChannelView, frozen=True, kw_only=True):
    permissions: int  # the caller's permissions in this channel


def _known_bits(value: int) -> None:
    """Bits between the defined ones pass ``le=ALL`` but mean nothing: refuse them."""
    if value & ~int(ALL):
        raise ValueError(f"unknown permission bits: {value & ~int(ALL)}")


class OverwriteSet(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    target_kind: Literal["role", "member"]
    allow: Permissions = 0
    deny: Permissions = 0

    def __post_init__(self) -> None:
        _known_bits(self.allow)
        _known_bits(self.deny)


class RoleCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name
    permissions: Permissions = 0
    color: Color = 0

    def __post_init__(self) -> None:
        _known_bits(self.permissions)


class RoleUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Name | UnsetType = UNSET
    permissions: Permissions | UnsetType = UNSET
    position: Annotated[int, Meta(ge=1, le=10_000)] | UnsetType = UNSET
    color: Color | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.permissions, int):
            _known_bits(self.permissions)


class MemberUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    nickname: Nickname | None


class BanCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Reason | None = None
    # Also remove the user's messages of the last N seconds (at most 7 days).
    delete_message_seconds: Annotated[int, Meta(ge=0, le=604_800)] = 0


class InviteCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_uses: Annotated[int, Meta(ge=1, le=1000)] | None = None
    max_age_seconds: Annotated[int, Meta(ge=60, le=30 * 86_400)] | None = 86_400
    temporary: bool = False


class InviteView(msgspec.Struct, kw_only=True):
    code: str
    server: ServerView
    channel_id: Snowflake | None
    channel_name: str | None = None
    member_count: int | None = None
    creator_id: Snowflake | None = None
    max_uses: int | None = None
    uses: int | None = None
    expires_at: datetime | None = None
    temporary: bool = False


class ServerPreview(msgspec.Struct, frozen=True, kw_only=True):
    """What anyone holding an invite may see of a server: no member (not even the owner)."""

    id: Snowflake
    name: str
    description: str | None
    icon_id: str | None
    icon_url: str | None


class InvitePreview(msgspec.Struct, kw_only=True):
    """An invite as shown before joining, without an account: names and counts only."""

    code: str
    server: ServerPreview
    channel_id: Snowflake | None
    channel_name: str | None
    member_count: int
    expires_at: datetime | None
    temporary: bool


class JoinServer(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    code: InviteCode
