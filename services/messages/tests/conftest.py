"""Fixtures: auth, guilds and messages in-process against real Postgres, Redis and NATS.

Users register through the real auth service, so their tokens, their ``user.created`` events
and auth's answers to "who is this user" are the real ones.
"""

from __future__ import annotations

import pytest

from auth_testing import auth_client, make_user
from guilds_testing import Client, guilds
from messages_testing import messages, messages_settings_overrides


@pytest.fixture
def client(messages: Client) -> Client:
    """The messages service (this suite's own name for it)."""
    return messages
