"""What READY carries besides servers: DM channels and relationships (asked of guilds), the
friends' presence (ours), and read states for every text channel and DM the session sees
(asked of messages, with the user's roles in each server for role mentions).

DM, relationship and read-state events need no routing of their own: each is a durable event
on the user subjects of exactly those it concerns (a DM's participants, the one whose list
changed, the one who acked), which every session already follows; the router sends user
events to that user's sessions as they are.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import msgspec
import structlog

from harmoniq_common.access import ServerSnapshot
from harmoniq_common.consumers import request
from harmoniq_common.direct import USER_DIRECT, UserDirect, UserDirectRequest
from harmoniq_common.errors import ApiError
from harmoniq_common.events import DmChannelView, UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.read_states import (
    READ_STATES,
    ReadState,
    ReadStates,
    ReadStatesRequest,
    ServerChannels,
)

from .presence import Presence

__all__ = ["DirectReady", "Relationship", "direct_ready"]

log = structlog.get_logger(__name__)

# Channels per read-states question: an answer of ~170 bytes per channel stays near 170 KiB.
CHANNELS_PER_QUESTION = 1000


class Relationship(msgspec.Struct, kw_only=True):
    user: UserSummary
    kind: str  # friend, incoming, outgoing, blocked
    since: datetime
    status: str | None = None  # friends only: their presence now


class DirectReady(msgspec.Struct, kw_only=True):
    dm_channels: list[DmChannelView]
    relationships: list[Relationship]
    read_states: list[ReadState]


async def _read_states(
    platform: Platform, user_id: int, servers: list[ServerSnapshot], dms: list[DmChannelView]
) -> list[ReadState]:
    """Best effort: READY goes out without read states when messages cannot answer (the
    client asks again on its next connection), rather than not at all. Asked in questions of
    at most :data:`CHANNELS_PER_QUESTION` channels, at once, so that no answer nears NATS's
    1 MiB payload limit."""
    wanted = [
        ServerChannels(
            server_id=s.server.id,
            role_ids=[Snowflake(g.id) for g in s.access.member_roles],
            channel_ids=[c.channel_id for c in s.access.channels if c.kind == "text"],
        )
        for s in servers
    ]
    questions: list[ReadStatesRequest] = []
    batch: list[ServerChannels] = []
    count = 0
    for entry in wanted:
        if batch and count + len(entry.channel_ids) > CHANNELS_PER_QUESTION:
            questions.append(ReadStatesRequest(user_id=Snowflake(user_id), servers=batch))
            batch, count = [], 0
        batch.append(entry)
        count += len(entry.channel_ids)
    questions.append(
        ReadStatesRequest(
            user_id=Snowflake(user_id), servers=batch, dm_channel_ids=[c.id for c in dms]
        )
    )
    subject = platform.subjects.rpc("messages", READ_STATES)
    try:
        answers = await asyncio.gather(
            *(request(platform.nats, subject, q, ReadStates) for q in questions)
        )
    except ApiError:
        log.warning("gateway.read_states_unavailable", user_id=user_id)
        return []
    return [state for answer in answers for state in answer.states]


async def direct_ready(
    platform: Platform, presence: Presence, user_id: int, servers: list[ServerSnapshot]
) -> DirectReady:
    direct = await request(
        platform.nats,
        platform.subjects.rpc("guilds", USER_DIRECT),
        UserDirectRequest(user_id=Snowflake(user_id)),
        UserDirect,
    )
    friends = [int(r.user.id) for r in direct.relationships if r.kind == "friend"]
    statuses = await presence.statuses_of(friends)
    return DirectReady(
        dm_channels=direct.channels,
        relationships=[
            Relationship(
                user=r.user,
                kind=r.kind,
                since=r.since,
                status=statuses.get(int(r.user.id)) if r.kind == "friend" else None,
            )
            for r in direct.relationships
        ],
        read_states=await _read_states(platform, user_id, servers, direct.channels),
    )
