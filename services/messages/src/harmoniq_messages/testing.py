"""Helpers for tests that send and read messages."""

from __future__ import annotations

from typing import Any

from harmoniq_common.testing.users import TestUser
from harmoniq_guilds.testing import Client

__all__ = ["history", "send"]


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
