"""Direct messages and relationships: what guilds answers about them over NATS.

DMs and group DMs are channels of guilds (kinds ``dm`` and ``group_dm``) outside any server:
guilds' channel-access answer (:data:`~.access.CHANNEL_ACCESS`) covers them, with
``server_id`` set to the DM's own id (a DM is its own scope: its permission epoch, its
messages' ``server_id``), the permissions below for participants, 404 for everyone else, and the
participants in ``recipient_ids`` so that services emit a DM's events to their user subjects
only. The gateway's READY asks :data:`USER_DIRECT` for a user's DMs and relationships.
See docs/decisions.md ("Direct messages").
"""

from __future__ import annotations

import msgspec

from .events import DmChannelView, RelationshipView
from .ids import Snowflake
from .permissions import Permission

__all__ = [
    "DM_KINDS",
    "DM_PERMISSIONS",
    "MAX_GROUP_DM_RECIPIENTS",
    "USER_DIRECT",
    "UserDirect",
    "UserDirectRequest",
]

DM_KINDS = frozenset({"dm", "group_dm"})
MAX_GROUP_DM_RECIPIENTS = 10  # people in a group DM, its owner included

# What a participant may do in a DM. No MANAGE_MESSAGES (nobody deletes another's message)
# and no MENTION_EVERYONE (there are no roles, and @everyone means nothing more than the DM).
DM_PERMISSIONS = int(
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.READ_MESSAGE_HISTORY
    | Permission.ADD_REACTIONS
    | Permission.ATTACH_FILES
    | Permission.EMBED_LINKS
)

USER_DIRECT = "user_direct"


class UserDirectRequest(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake


class UserDirect(msgspec.Struct, frozen=True, kw_only=True):
    """A user's DM channels (newest activity first) and relationships, for READY."""

    channels: list[DmChannelView]
    relationships: list[RelationshipView]
