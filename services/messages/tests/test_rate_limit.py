"""Sending is rate limited per user and channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]


async def _post(client: Client, user: TestUser, channel_id: str) -> int:
    response = await client.post(
        f"/api/v1/channels/{channel_id}/messages", json={"content": "hi"}, headers=user.headers
    )
    return response.status_code


@pytest.fixture
def messages_settings_overrides() -> dict[str, Any]:
    return {"send_rate_limit": 3, "send_rate_period_seconds": 60}


async def test_sending_is_rate_limited_per_user_and_channel(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    member = await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    for _ in range(3):
        assert await _post(client, member, channel_id) == 201
    limited = await client.post(
        f"/api/v1/channels/{channel_id}/messages", json={"content": "x"}, headers=member.headers
    )
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert await _post(client, owner, channel_id) == 201  # somebody else's budget is their own
