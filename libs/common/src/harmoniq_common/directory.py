"""Who users are, asked of auth: for services whose user projection has not caught up yet.

Services keep a projection of :class:`~.events.UserSummary` fed by ``user.*`` events; a user
who acts right after registering can be ahead of that feed, so a miss asks auth directly.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .events import UserSummary
from .ids import Snowflake

__all__ = ["USER_SUMMARIES", "UserSummaries", "UserSummariesRequest"]

USER_SUMMARIES = "user_summaries"


class UserSummariesRequest(msgspec.Struct, frozen=True, kw_only=True):
    ids: Annotated[list[Snowflake], msgspec.Meta(max_length=100)]


class UserSummaries(msgspec.Struct, frozen=True, kw_only=True):
    """The users that exist and are not deleted; unknown ids are simply absent."""

    users: list[UserSummary]
