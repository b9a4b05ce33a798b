"""``/api/v1/channels/{id}/messages/{mid}/ack``: read up to a message; and
``/api/v1/users/@me/notification-settings``: how much each server and channel notifies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from harmoniq_common.ids import Snowflake
from harmoniq_common.read_states import ReadState

from .deps import D, UserRequest, dependencies

__all__ = ["AckController", "NotificationSettingsController"]


class AckController(Controller):
    path = "/api/v1/channels/{channel_id:str}/messages/{message_id:str}/ack"
    tags = ["read states"]
    dependencies = dependencies()

    @post("/", operation_id="ackMessage", status_code=HTTP_200_OK)
    async def ack(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        domain: D,
    ) -> ReadState:
        """Read up to this message (never backwards); the channel's read state after it. The
        user's other sessions get ``channel.ack``."""
        return await domain.read_states.ack(request.user.user_id, channel_id, message_id)


Level = Literal["all", "mentions", "nothing"]


class NotificationSettingSet(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``level`` null inherits (a channel its server's; a server "all"); ``muted_until`` in
    the past or null: not muted. Both null removes the setting."""

    level: Level | None = None
    muted_until: datetime | None = None


class NotificationSetting(msgspec.Struct, frozen=True, kw_only=True):
    scope_id: Snowflake
    level: Annotated[str, msgspec.Meta(description="all, mentions or nothing")] | None
    muted_until: datetime | None


class NotificationSettingsController(Controller):
    path = "/api/v1/users/@me/notification-settings"
    tags = ["read states"]
    dependencies = dependencies()

    @get("/", operation_id="listNotificationSettings")
    async def list_mine(self, request: UserRequest, domain: D) -> list[NotificationSetting]:
        rows = await domain.read_states.settings(request.user.user_id)
        return [
            NotificationSetting(scope_id=r.scope_id, level=r.level, muted_until=r.muted_until)
            for r in rows
        ]

    @put("/{scope_id:str}", operation_id="setNotificationSetting")
    async def set_setting(
        self,
        request: UserRequest,
        scope_id: FromPath[Snowflake],
        data: JSONBody[NotificationSettingSet],
        domain: D,
    ) -> NotificationSetting:
        """For a server the caller is in, or a channel or DM they can see."""
        await domain.read_states.set_setting(
            request.user.user_id, scope_id, data.level, data.muted_until
        )
        return NotificationSetting(
            scope_id=scope_id, level=data.level, muted_until=data.muted_until
        )
