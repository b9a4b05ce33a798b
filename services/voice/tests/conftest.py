"""Fixtures: auth, guilds and voice in-process against real Postgres, Redis and NATS."""

from __future__ import annotations

import pytest

from auth_testing import auth_client, make_user
from guilds_testing import Client, guilds
from voice_testing import voice, voice_overrides


@pytest.fixture
def client(voice: Client) -> Client:
    """The voice service (this suite's own name for it)."""
    return voice
