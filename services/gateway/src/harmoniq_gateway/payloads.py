"""What clients send in ``d`` for each opcode, with limits."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from harmoniq_common.ids import Snowflake
from harmoniq_common.validation import anchored

__all__ = ["Identify", "PresenceUpdate", "Resume", "SubscribeMembers", "Typing"]

Token = Annotated[str, Meta(min_length=1, max_length=4096)]


Status = Literal["online", "idle", "dnd", "invisible"]


class Identify(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Token
    status: Status = "online"
    properties: Annotated[dict[str, Any], Meta(max_length=16)] = {}


class Resume(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Token
    session_id: Annotated[str, Meta(pattern=anchored(r"[0-9a-f]{32}"))]
    seq: Annotated[int, Meta(ge=0)]


class PresenceUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    status: Status


class Typing(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    channel_id: Snowflake


class SubscribeMembers(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    server_id: Snowflake
    subscribe: bool = True  # false: stop (the member list is no longer shown)
    # The next page of who is online, as the last ``members.subscribed`` gave it.
    # Redis's HSCAN cursor: an unsigned 64-bit integer, which Redis refuses past 2**64 - 1.
    cursor: Annotated[str, Meta(pattern=anchored(r"[1-9][0-9]{0,19}"))] | None = None

    def __post_init__(self) -> None:
        if self.cursor is not None and int(self.cursor) >= 1 << 64:
            raise ValueError("cursor out of range")
