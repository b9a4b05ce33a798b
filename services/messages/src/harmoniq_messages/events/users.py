"""Consumes auth's user events: the authors projection, anonymised on account deletion."""

from __future__ import annotations

from harmoniq_common.consumers import DurableConsumer
from harmoniq_common.platform import Platform
from harmoniq_common.projections import users_projection_consumer

from ..store.users import USERS

__all__ = ["user_events_consumer"]

CONSUMER = "messages-users"


def user_events_consumer(platform: Platform) -> DurableConsumer:
    return users_projection_consumer(platform, USERS, durable=CONSUMER)
