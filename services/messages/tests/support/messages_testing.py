"""Helpers for tests that send and read messages, and the service in-process for them.

Test support, not shipped: importable as ``messages_testing`` in every test (the pytest
``pythonpath`` setting).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.users import TestUser
from harmoniq_messages.app import create_app
from harmoniq_messages.settings import MessagesSettings

Client = AsyncTestClient[Any]

__all__ = [
    "MESSAGES_SCHEMA",
    "history",
    "messages",
    "messages_settings_overrides",
    "send",
]

MESSAGES_SCHEMA = ServiceSchema(
    "messages", "messages", Path(__file__).resolve().parents[2] / "migrations", ("pg_trgm",)
)


async def send(
    client: Client, author: TestUser, channel_id: str, content: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/channels/{channel_id}/messages",
        json={"content": content, **fields},
        headers=author.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def history(
    client: Client, reader: TestUser, channel_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/channels/{channel_id}/messages", params=params, headers=reader.headers
    )
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


@pytest.fixture
def messages_settings_overrides() -> dict[str, Any]:
    """Tests send in bursts; the send limit has its own test, which overrides this."""
    return {"send_rate_limit": 10_000}


@pytest_asyncio.fixture(loop_scope="session")
async def messages(
    service_app: ServiceApp, messages_settings_overrides: dict[str, Any], guilds: Client
) -> AsyncIterator[Client]:
    """The messages service in-process (guilds is up first: messages asks it about access)."""
    yield await service_app(
        create_app, MessagesSettings, MESSAGES_SCHEMA, **messages_settings_overrides
    )
