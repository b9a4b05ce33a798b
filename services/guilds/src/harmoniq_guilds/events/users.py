"""Consumes auth's user events: the users projection, and removal of deleted accounts."""

from __future__ import annotations

from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.projections import users_projection_consumer
from harmoniq_common.uow import UnitOfWork

from ..domain.changes import guild_change
from ..domain.servers import Servers
from ..domain.users import remove_deleted_user
from ..store.users import USERS

__all__ = ["user_events_consumer"]

CONSUMER = "guilds-users"


def user_events_consumer(platform: Platform, servers: Servers) -> DurableConsumer:
    async def on_deleted(tx: UnitOfWork, user_id: Snowflake) -> None:
        await remove_deleted_user(tx, platform, servers, user_id)

    # guild_change: a deletion changes servers, whose permission epochs move after commit.
    return users_projection_consumer(
        platform, USERS, durable=CONSUMER, on_deleted=on_deleted, open_unit=guild_change
    )
