"""Read states: what a user has read, asked of messages over NATS (the gateway's READY).

messages owns read states and mention counts (it sees every message and its mentions).
The gateway knows which channels a session sees and the user's roles in each server, so it
asks for exactly those; messages answers only channels that have a message or a read state.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .ids import Snowflake

__all__ = [
    "MAX_MENTION_COUNT",
    "READ_STATES",
    "ReadState",
    "ReadStates",
    "ReadStatesRequest",
    "ServerChannels",
]

READ_STATES = "read_states"
# Mention counts stop here ("99+" in a client): counting a long-unread channel's every
# mention would make READY cost what the backlog costs.
MAX_MENTION_COUNT = 100


class ServerChannels(msgspec.Struct, frozen=True, kw_only=True):
    """Channels of one server the user sees, and their roles there (role mentions)."""

    server_id: Snowflake
    role_ids: list[Snowflake]
    channel_ids: list[Snowflake]


class ReadStatesRequest(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake
    servers: list[ServerChannels]
    dm_channel_ids: Annotated[list[Snowflake], msgspec.Meta(max_length=10_000)] = []


class ReadState(msgspec.Struct, frozen=True, kw_only=True):
    channel_id: Snowflake
    last_read_id: Snowflake | None = None  # None: never acked
    last_message_id: Snowflake | None = None  # None: no message
    unread: bool  # a message newer than last_read_id, and the channel neither muted nor "nothing"
    mention_count: int  # unread mentions of the user, their roles, @everyone/@here
    level: str = "all"  # the effective notification level: "all", "mentions" or "nothing"
    muted: bool = False


class ReadStates(msgspec.Struct, frozen=True, kw_only=True):
    states: list[ReadState]
