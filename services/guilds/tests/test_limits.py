"""The per-user and per-server limits (small here, so that reaching them is cheap)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture(scope="module")
def guilds_settings_overrides() -> dict[str, Any]:
    return {"max_servers_per_user": 2, "max_channels_per_server": 3, "max_roles_per_server": 5}


async def test_servers_channels_and_roles_are_bounded(client: Client, make_user: MakeUser) -> None:
    owner, joiner = await make_user("owner"), await make_user("joiner")
    first = await create_server(client, owner, "One")  # two channels come with it
    await create_server(client, joiner, "Own")
    await invite_and_join(client, first, owner, joiner)  # the joiner's second server

    # Servers per user: by creating, and by joining.
    refused = await client.post("/api/v1/servers", json={"name": "3"}, headers=joiner.headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "too_many_servers")
    second = await create_server(client, owner, "Two")
    code = await invite_and_join(client, second, owner)
    refused = await client.post(f"/api/v1/invites/{code}", headers=joiner.headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "too_many_servers")
    mine = (await client.get("/api/v1/servers", headers=joiner.headers)).json()
    assert len(mine) == 2

    # Channels per server.
    channels = f"/api/v1/servers/{first['id']}/channels"
    made = await client.post(channels, json={"name": "third"}, headers=owner.headers)
    assert made.status_code == 201
    refused = await client.post(channels, json={"name": "fourth"}, headers=owner.headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "too_many_channels")

    # Roles per server (four come with it).
    roles = f"/api/v1/servers/{first['id']}/roles"
    assert (
        await client.post(roles, json={"name": "fifth"}, headers=owner.headers)
    ).status_code == 201
    refused = await client.post(roles, json={"name": "sixth"}, headers=owner.headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "too_many_roles")
    assert len((await client.get(roles, headers=owner.headers)).json()) == 5
