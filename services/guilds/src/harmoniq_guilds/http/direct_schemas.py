"""Request bodies of the DM, relationship and DM-privacy routes, with their limits."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from harmoniq_common.direct import MAX_GROUP_DM_RECIPIENTS
from harmoniq_common.ids import Snowflake
from harmoniq_common.validation import SingleLine, anchored

from .schemas import IconId, Name

__all__ = ["DmOpen", "DmPrivacy", "DmUpdate", "FriendRequest", "RelationshipSet"]

Username = Annotated[str, Meta(min_length=1, max_length=64, pattern=anchored(r"[A-Za-z0-9_.-]+"))]


class DmOpen(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One recipient: the 1:1 DM; several: a new group DM (with a name and icon if given)."""

    recipient_ids: Annotated[
        list[Snowflake], Meta(min_length=1, max_length=MAX_GROUP_DM_RECIPIENTS - 1)
    ]
    name: Name | None = None
    icon_id: IconId | None = None


class DmUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[SingleLine, Meta(min_length=1, max_length=100)] | UnsetType = UNSET
    icon_id: IconId | UnsetType | None = UNSET


class FriendRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    username: Username


class RelationshipSet(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``friend``: send a request, or accept theirs; ``blocked``: block."""

    kind: Literal["friend", "blocked"]


class DmPrivacy(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """May other members of this server open DMs with me?"""

    allow_dms: bool
