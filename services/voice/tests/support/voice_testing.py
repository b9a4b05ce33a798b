"""Helpers for tests that need voice: its schema, the service in-process for other suites
(``voice``), voice channels and joining them over the service's RPC (what the gateway does).

Test support, not shipped: importable as ``voice_testing`` in every test.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.ids import Snowflake
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.users import TestUser
from harmoniq_common.voice import VOICE_UPDATE_STATE, VoiceStateReply, VoiceStateRequest
from harmoniq_voice.app import create_app
from harmoniq_voice.settings import VoiceSettings

__all__ = [
    "TEST_TURN_SECRET",
    "VOICE_SCHEMA",
    "Client",
    "join_voice",
    "new_session_id",
    "voice",
    "voice_channel",
    "voice_overrides",
]

VOICE_SCHEMA = ServiceSchema("voice", "voice", Path(__file__).resolve().parents[2] / "migrations")
TEST_TURN_SECRET = "voice-tests-shared-secret"
Client = AsyncTestClient[Any]


def new_session_id() -> str:
    return secrets.token_hex(16)


async def voice_channel(
    guilds: Client, server_id: str, owner: TestUser, name: str = "Voice", **fields: Any
) -> dict[str, Any]:
    response = await guilds.post(
        f"/api/v1/servers/{server_id}/channels",
        json={"name": name, "kind": "voice", **fields},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def join_voice(
    nats: NatsClient,
    namespace: str,
    user: TestUser,
    channel_id: str | None,
    session_id: str | None = None,
    **flags: bool,
) -> VoiceStateReply:
    """What the gateway asks when a session sends its voice state op (ApiError if refused)."""
    return await request(
        nats,
        Subjects(namespace).rpc("voice", VOICE_UPDATE_STATE),
        VoiceStateRequest(
            user_id=Snowflake(int(user.id)),
            session_id=session_id or new_session_id(),
            channel_id=Snowflake(int(channel_id)) if channel_id else None,
            **flags,
        ),
        VoiceStateReply,
    )


@pytest.fixture
def voice_overrides() -> dict[str, Any]:
    """Settings a test module changes (override this fixture in the module)."""
    return {}


@pytest_asyncio.fixture(loop_scope="session")
async def voice(service_app: ServiceApp, voice_overrides: dict[str, Any]) -> AsyncIterator[Client]:
    """The voice service in-process, for other suites (the gateway's)."""
    settings: dict[str, Any] = {
        "turn_secret": TEST_TURN_SECRET,
        # Nothing listens on this TURN port: the doctor says so quickly.
        "turn_urls": ["turn:127.0.0.1:9?transport=udp"],
        "doctor_timeout_seconds": 0.3,
    }
    yield await service_app(create_app, VoiceSettings, VOICE_SCHEMA, **(settings | voice_overrides))
