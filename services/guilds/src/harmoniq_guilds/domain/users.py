"""What a deleted account means to guilds, beyond its anonymised row in the projection."""

from __future__ import annotations

import structlog

from harmoniq_common.events import RelationshipRemoved, ServerUpdated
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork

from ..store import members, servers
from ..store import relationships as relationships_store
from . import audit
from .members import remove_member
from .relationships import blocks_changed_on_commit
from .servers import Servers
from .views import server_view

__all__ = ["remove_deleted_user"]

log = structlog.get_logger(__name__)


async def remove_deleted_user(
    tx: UnitOfWork, platform: Platform, server_ops: Servers, user_id: Snowflake
) -> None:
    """Servers they own pass to the longest-standing member (or go if nobody is left), they
    leave every server, and they leave everyone's relationships (their DMs stay, with the
    anonymised name, as their messages do)."""
    for other_id in await relationships_store.delete_all_of(tx.conn, user_id):
        await tx.emit_user(other_id, RelationshipRemoved(user_id=other_id, other_id=user_id))
        blocks_changed_on_commit(tx, other_id)  # a block of them is gone: lists cached ask again
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
