"""Where a channel's events go: a server channel's to its server subject, a DM's to each
participant's user subject (and nowhere else: no server follower, no gateway session of
anyone outside it, ever hears of a DM's messages)."""

from __future__ import annotations

from harmoniq_common.access import ChannelAccess
from harmoniq_common.bus import Subjects
from harmoniq_common.events import EventPayload
from harmoniq_common.uow import UnitOfWork

__all__ = ["channel_subjects", "emit_for_channel"]


def channel_subjects(subjects: Subjects, access: ChannelAccess, event_type: str) -> list[str]:
    """One subject per participant of a DM (at most ten), one for a server channel."""
    if access.is_direct:
        return [subjects.user_event(user_id, event_type) for user_id in access.recipient_ids]
    return [subjects.server_event(access.server_id, event_type)]


async def emit_for_channel(tx: UnitOfWork, access: ChannelAccess, payload: EventPayload) -> None:
    """One outbox row per subject of :func:`channel_subjects`."""
    for subject in channel_subjects(tx.platform.subjects, access, payload.event_type):
        await tx.emit(subject, payload)
