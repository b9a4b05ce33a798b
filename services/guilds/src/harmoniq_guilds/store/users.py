"""The users projection: members' names and avatars as auth last described them."""

from __future__ import annotations

from harmoniq_common.projections import UsersProjection

__all__ = ["USERS"]

# Kept by harmoniq_common.projections.users_projection_consumer (events/users.py).
USERS = UsersProjection(deleted_username=lambda user_id: f"deleted-{user_id}")
