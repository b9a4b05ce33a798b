"""Helpers for tests of the bots service: its schema, the service in-process for other suites
(``bots``), and request helpers for webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from litestar.testing import AsyncTestClient

from harmoniq_bots.app import create_app
from harmoniq_bots.settings import BotsSettings
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.users import TestUser

__all__ = ["BOTS_SCHEMA", "bots", "create_webhook", "execute"]

BOTS_SCHEMA = ServiceSchema("bots", "bots", Path(__file__).resolve().parents[2] / "migrations")
Client = AsyncTestClient[Any]


@pytest_asyncio.fixture(loop_scope="session")
async def bots(service_app: ServiceApp) -> AsyncIterator[Client]:
    """The bots service in-process (start guilds and messages first: it asks both)."""
    yield await service_app(create_app, BotsSettings, BOTS_SCHEMA)


async def create_webhook(
    client: Client,
    manager: TestUser,
    server_id: str,
    channel_id: str,
    name: str = "Hooky",
    **body: Any,
) -> dict[str, Any]:
    """A webhook, with its ``token`` and ``url``."""
    response = await client.post(
        f"/api/v1/servers/{server_id}/webhooks",
        json={"channel_id": channel_id, "name": name, **body},
        headers=manager.headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def execute(client: Client, webhook: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Execute with ``?wait=true``: the message posted."""
    response = await client.post(webhook["url"], params={"wait": "true"}, json=body)
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()
    return message
