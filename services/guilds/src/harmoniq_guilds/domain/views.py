"""Rows to the shared views (``harmoniq_common.events``): one shape for REST and events."""

from __future__ import annotations

from harmoniq_common.events import (
    ChannelView,
    MemberView,
    OverwriteView,
    RoleView,
    ServerView,
    UserSummary,
)
from harmoniq_common.media import public_media_url

from ..store.rows import ChannelRow, MemberRow, OverwriteRow, RoleRow, ServerRow

__all__ = ["channel_view", "member_view", "role_view", "server_view"]


def server_view(row: ServerRow) -> ServerView:
    return ServerView(
        id=row.id,
        name=row.name,
        description=row.description,
        icon_id=row.icon_id,
        icon_url=public_media_url(row.icon_id) if row.icon_id else None,
        owner_id=row.owner_id,
        created_at=row.created_at,
    )


def channel_view(row: ChannelRow, overwrites: list[OverwriteRow]) -> ChannelView:
    return ChannelView(
        id=row.id,
        server_id=row.server_id,
        kind=row.kind,
        name=row.name,
        topic=row.topic,
        position=row.position,
        parent_id=row.parent_id,
        user_limit=row.user_limit if row.kind == "voice" else None,
        bitrate=row.bitrate if row.kind == "voice" else None,
        overwrites=[
            OverwriteView(
                target_kind=o.target_kind,
                target_id=o.target_id,
                allow=o.allow_bits,
                deny=o.deny_bits,
            )
            for o in overwrites
            if o.channel_id == row.id
        ],
    )


def role_view(row: RoleRow) -> RoleView:
    return RoleView(
        id=row.id,
        server_id=row.server_id,
        name=row.name,
        permissions=row.permissions,
        position=row.position,
        color=row.color,
        default=row.id == row.server_id,
        managed=row.managed_by is not None,
    )


def member_view(row: MemberRow) -> MemberView:
    return MemberView(
        server_id=row.server_id,
        user=UserSummary(id=row.user_id, username=row.username, avatar_url=row.avatar_url),
        nickname=row.nickname,
        roles=[r for r in row.roles if r != row.server_id],
        joined_at=row.joined_at,
    )
