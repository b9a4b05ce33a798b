"""``/api/v1/servers/{server_id}/bans``: list, ban (and remove), unban."""

from __future__ import annotations

from typing import Any

from litestar import Controller, delete, get, put
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from harmoniq_common.ids import Snowflake
from harmoniq_common.params import IdCursor

from .deps import G, PageSize, UserRequest, dependencies, reason
from .schemas import BanCreate

__all__ = ["BansController"]


class BansController(Controller):
    path = "/api/v1/servers/{server_id:str}/bans"
    tags = ["bans"]
    dependencies = dependencies()

    @get("/", operation_id="listBans")
    async def bans(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        guilds: G,
        after: FromQuery[IdCursor] = IdCursor(0),
        limit: PageSize = 100,
    ) -> list[dict[str, Any]]:
        rows = await guilds.members.bans(server_id, request.user.user_id, after, limit)
        return [
            {
                "user_id": str(r["user_id"]),
                "reason": r["reason"],
                "banned_by": str(r["banned_by"]),
                "created_at": r["created_at"],
            }
            for r in rows
        ]

    @put("/{user_id:str}", operation_id="banUser", status_code=HTTP_204_NO_CONTENT)
    async def ban(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        user_id: FromPath[Snowflake],
        guilds: G,
        data: JSONBody[BanCreate | None] = None,
    ) -> None:
        """Ban (and remove) a user; a banned user cannot rejoin by any invite. The body is
        optional; its ``reason`` wins over ``X-Audit-Log-Reason``."""
        ban = data or BanCreate()
        header_reason = reason(request)
        await guilds.members.ban(
            server_id,
            request.user.user_id,
            user_id,
            ban.reason or header_reason,
            ban.delete_message_seconds,
        )

    @delete("/{user_id:str}", operation_id="unbanUser", status_code=HTTP_204_NO_CONTENT)
    async def unban(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        user_id: FromPath[Snowflake],
        guilds: G,
    ) -> None:
        await guilds.members.unban(server_id, request.user.user_id, user_id, reason(request))
