"""Request and response bodies of the messages API, with their limits."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from harmoniq_common.events import MessageView, UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import MAX_ATTACHMENTS
from harmoniq_common.validation import BLANK_CHAR, TEXT_CHAR, VISIBLE_CHAR, anchored

__all__ = [
    "BulkDelete",
    "MessageCreate",
    "MessageEdit",
    "MessageOut",
    "ReactionOut",
    "SearchResults",
    "UserSummary",
]

MAX_CONTENT = 4000
# Multi-line text that says something (not only white space). Blanks and visible characters
# are disjoint, so the pattern runs in linear time on any input.
Content = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_CONTENT,
        pattern=anchored(f"{BLANK_CHAR}*{VISIBLE_CHAR}{TEXT_CHAR}*"),
        description="text with something to show; no control characters but \\t \\n \\r",
    ),
]
Nonce = Annotated[str, Meta(min_length=1, max_length=64, pattern=anchored(r"[A-Za-z0-9_.:-]+"))]


class MessageCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    # Optional when the message carries files.
    content: Content | None = None
    # Uploads of the sender's (purpose "attachment"), not used by another message yet.
    attachments: Annotated[list[Snowflake], Meta(max_length=MAX_ATTACHMENTS)] = []
    reply_to_id: Snowflake | None = None
    # Chosen by the client per message: a retried send with the same nonce is stored once.
    nonce: Nonce | None = None


class MessageEdit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    content: Content


class BulkDelete(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    message_ids: Annotated[list[Snowflake], Meta(min_length=2, max_length=100)]


class ReactionOut(msgspec.Struct, kw_only=True):
    emoji: str
    count: int
    me: bool


class MessageOut(MessageView, frozen=True, kw_only=True):
    reactions: list[ReactionOut] = []
    # Present (true) only when the viewer blocked its author: a client may hide it (shared
    # servers, a DM's history). Absent otherwise, as on gateway dispatches (one frame for all).
    author_blocked: bool | msgspec.UnsetType = msgspec.UNSET


class SearchResults(msgspec.Struct, kw_only=True):
    messages: list[MessageOut]
    has_more: bool
    next_offset: int | None
