"""Friend requests, blocks and DM opening are rate-limited per user (429 with Retry-After)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, befriend

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture(scope="module")
def guilds_settings_overrides() -> dict[str, Any]:
    return {
        "relationship_rate_limit": 3,
        "relationship_rate_period_seconds": 600.0,
        "dm_open_rate_limit": 2,
        "dm_open_rate_period_seconds": 600.0,
    }


async def test_friend_requests_are_rate_limited(client: Client, make_user: MakeUser) -> None:
    spammer = await make_user()
    targets = [await make_user() for _ in range(4)]
    statuses = []
    for target in targets:
        response = await client.put(
            f"/api/v1/users/@me/relationships/{target.id}",
            json={"kind": "friend"},
            headers=spammer.headers,
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429]
    assert int(response.headers["retry-after"]) > 0
    # Another user's bucket is their own.
    other = await make_user()
    own = await client.put(
        f"/api/v1/users/@me/relationships/{spammer.id}",
        json={"kind": "friend"},
        headers=other.headers,
    )
    assert own.status_code == 200


async def test_opening_dms_is_rate_limited(client: Client, make_user: MakeUser) -> None:
    opener = await make_user()
    friends = [await make_user() for _ in range(3)]
    for friend in friends:
        await befriend(client, friend, opener)  # the friends ask: the opener's bucket stays full
    statuses = [
        (
            await client.post(
                "/api/v1/users/@me/channels",
                json={"recipient_ids": [str(friend.id)]},
                headers=opener.headers,
            )
        ).status_code
        for friend in friends
    ]
    assert statuses == [201, 201, 429]
