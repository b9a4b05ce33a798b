"""``/api/v1/servers/{server_id}/audit-log``: what moderators and admins did, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import FromPath, FromQuery, QueryParameter

from harmoniq_common.ids import Snowflake

from ..domain import audit
from .deps import G, UserRequest, dependencies

__all__ = ["AuditLogController"]


class AuditLogController(Controller):
    path = "/api/v1/servers/{server_id:str}/audit-log"
    tags = ["audit-log"]
    dependencies = dependencies()

    @get("/", operation_id="readAuditLog")
    async def audit_log(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        guilds: G,
        before: FromQuery[Snowflake | None] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=100)] = 50,
        action: Annotated[str | None, QueryParameter(name="action", max_length=64)] = None,
        actor_id: FromQuery[Snowflake | None] = None,
    ) -> list[dict[str, Any]]:
        """Moderation and configuration actions, newest first (VIEW_AUDIT_LOG)."""
        return await audit.read(
            guilds.servers.platform,
            server_id,
            request.user.user_id,
            before=before,
            limit=limit,
            action=action,
            actor_id=actor_id,
        )
