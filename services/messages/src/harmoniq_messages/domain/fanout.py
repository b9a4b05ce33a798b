"""Where a channel's events go: a server channel's to its server subject, a DM's to each
participant's user subject (and nowhere else: no server follower, no gateway session of
anyone outside it, ever hears of a DM's messages)."""

from __future__ import annotations

from harmoniq_common.access import ChannelAccess
from harmoniq_common.events import EventPayload
from harmoniq_common.uow import UnitOfWork

__all__ = ["emit_for_channel"]


async def emit_for_channel(tx: UnitOfWork, access: ChannelAccess, payload: EventPayload) -> None:
    """One outbox row per participant of a DM (at most ten), one per server channel event."""
    if access.is_direct:
        for user_id in access.recipient_ids:
            await tx.emit_user(user_id, payload)
    else:
        await tx.emit_server(access.server_id, payload)
