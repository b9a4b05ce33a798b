"""Request and response bodies of the voice API."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from harmoniq_common.ids import Snowflake

__all__ = ["VoiceStateModeration"]


class VoiceStateModeration(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A moderator's change; absent fields stay as they are."""

    mute: bool | UnsetType = UNSET  # MUTE_MEMBERS
    deaf: bool | UnsetType = UNSET  # DEAFEN_MEMBERS
    channel_id: Snowflake | UnsetType = UNSET  # MOVE_MEMBERS: move them there
