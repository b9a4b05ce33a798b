"""Rows as the domain sees them, built from asyncpg records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import msgspec

from harmoniq_common.ids import Snowflake

__all__ = ["MessageRow", "ReactionCountRow", "to_row", "to_rows"]

R = TypeVar("R", bound=msgspec.Struct)


class MessageRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    author_id: Snowflake
    author_username: str
    author_avatar_url: str | None
    content: str
    nonce: str | None
    reply_to_id: Snowflake | None
    mention_user_ids: list[Snowflake]
    mention_role_ids: list[Snowflake]
    mention_everyone: bool
    has_link: bool
    has_attachment: bool
    pinned_at: datetime | None
    edited_at: datetime | None
    created_at: datetime


class ReactionCountRow(msgspec.Struct, frozen=True, kw_only=True):
    message_id: Snowflake
    emoji: str
    count: int
    me: bool


def _snowflakes(kind: type, value: Any) -> Any:
    if kind is Snowflake:
        return Snowflake(value)
    raise NotImplementedError


def to_row(record: asyncpg.Record | None, kind: type[R]) -> R | None:
    return None if record is None else msgspec.convert(dict(record), kind, dec_hook=_snowflakes)


def to_rows(records: list[asyncpg.Record] | list[dict[str, Any]], kind: type[R]) -> list[R]:
    return [msgspec.convert(dict(r), kind, dec_hook=_snowflakes) for r in records]
