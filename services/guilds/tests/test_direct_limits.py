"""Friend requests, blocks and DM opening are rate-limited per user (429 with Retry-After)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from guilds_testing import Client, befriend, create_server

MakeUser = Callable[..., Awaitable[TestUser]]
REL = "/api/v1/users/@me/relationships"


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


async def test_requests_by_name_and_by_id_share_one_bucket_and_a_refusal_writes_nothing(
    client: Client, make_user: MakeUser
) -> None:
    """Cancelling and asking again costs a request each time: no cycle escapes the limit."""
    spammer, target = await make_user(), await make_user(f"target_{secrets.token_hex(4)}")
    server = await create_server(client, target)

    async def target_known() -> bool:  # guilds has read auth's user.created (not rate-limited)
        me = await client.get(f"/api/v1/servers/{server['id']}/members/@me", headers=target.headers)
        return bool(me.json()["user"]["username"] == target.name)

    await eventually(target_known, what="the target's name known to guilds")
    statuses = []
    for _ in range(2):  # ask by name, cancel, ask by id, cancel...
        asked = await client.post(REL, json={"username": target.name}, headers=spammer.headers)
        statuses.append(asked.status_code)
        cancelled = await client.delete(f"{REL}/{target.id}", headers=spammer.headers)
        assert cancelled.status_code == 204, (asked.text, cancelled.text)
    again = await client.put(f"{REL}/{target.id}", json={"kind": "friend"}, headers=spammer.headers)
    statuses.append(again.status_code)
    refused = await client.put(
        f"{REL}/{target.id}", json={"kind": "blocked"}, headers=spammer.headers
    )
    assert statuses == [200, 200, 200] and refused.status_code == 429, refused.text
    # The refused block wrote nothing: the target still has the third request.
    theirs = (await client.get(REL, headers=target.headers)).json()
    assert [(r["user"]["id"], r["kind"]) for r in theirs] == [(str(spammer.id), "incoming")]
