"""What guilds does when auth says a user changed or is gone."""

from __future__ import annotations

import structlog

from harmoniq_common.events import (
    ServerUpdated,
    UserCreated,
    UserDeleted,
    UserUpdated,
)
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..store import members, servers
from . import audit
from .members import remove_member
from .servers import Servers
from .views import server_view

__all__ = ["apply_user_event"]

log = structlog.get_logger(__name__)


async def apply_user_event(
    tx: UnitOfWork,
    platform: Platform,
    server_ops: Servers,
    event: UserCreated | UserUpdated | UserDeleted,
) -> None:
    if isinstance(event, UserCreated | UserUpdated):
        await servers.upsert_user(
            tx.conn, event.user.id, event.user.username, event.user.avatar_url
        )
        return
    user_id = event.user_id
    await servers.upsert_user(tx.conn, user_id, f"deleted-{user_id}", None, deleted=True)
    # Servers they own pass to the longest-standing member, or go if nobody is left.
    for server_id in await servers.owned_by(tx.conn, user_id):
        heir = await members.longest_standing(tx.conn, server_id, excluding=user_id)
        if heir is None:
            await server_ops.remove(tx, server_id)
            continue
        server = await servers.set_owner(tx.conn, server_id, heir)
        await tx.emit_server(server_id, ServerUpdated(server=server_view(server)))
        await audit.record(
            tx, server_id, user_id, "server.transfer", target_id=heir, reason="account deleted"
        )
    # In id order: the per-server turns (count_in_turn) are taken in one order everywhere.
    for server_id in sorted(await members.server_ids(tx.conn, user_id)):
        await remove_member(tx, platform, server_id, user_id, "account_deleted")
    log.info("guilds.user_removed", user_id=user_id)
