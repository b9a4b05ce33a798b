"""Rows as the domain sees them (built from asyncpg records by ``harmoniq_common.db.records_to``)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from harmoniq_common.ids import Snowflake

__all__ = [
    "ChannelRow",
    "DmChannelRow",
    "DmRecipientRow",
    "InviteRow",
    "MemberRow",
    "OverwriteRow",
    "RelationshipRow",
    "RoleRow",
    "ServerRow",
]


class ServerRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    name: str
    description: str | None
    icon_id: str | None
    owner_id: Snowflake
    created_at: datetime


class MemberRow(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    user_id: Snowflake
    nickname: str | None
    joined_at: datetime
    username: str
    avatar_url: str | None
    roles: list[Snowflake]


class RoleRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    name: str
    permissions: int
    position: int
    color: int
    managed_by: Snowflake | None = None  # the bot whose installation this role is


class OverwriteRow(msgspec.Struct, frozen=True, kw_only=True):
    channel_id: Snowflake
    target_kind: str
    target_id: Snowflake
    allow_bits: int
    deny_bits: int


class ChannelRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    kind: str
    name: str
    topic: str | None
    position: int
    parent_id: Snowflake | None
    user_limit: int = 0
    bitrate: int = 64000


class InviteRow(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    server_id: Snowflake
    channel_id: Snowflake | None
    creator_id: Snowflake
    max_uses: int | None
    uses: int
    expires_at: datetime | None
    temporary: bool
    created_at: datetime
    revoked_at: datetime | None


class DmChannelRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    kind: str
    name: str | None
    icon_id: str | None
    owner_id: Snowflake | None
    last_activity_id: Snowflake
    created_at: datetime


class DmRecipientRow(msgspec.Struct, frozen=True, kw_only=True):
    channel_id: Snowflake
    user_id: Snowflake
    username: str
    avatar_url: str | None


class RelationshipRow(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake
    other_id: Snowflake
    kind: str
    since: datetime
    username: str
    avatar_url: str | None
