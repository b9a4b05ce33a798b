"""In large servers presence goes only to sessions that asked for the member list (op 8)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Op
from harmoniq_gateway.testing import GatewayClient
from harmoniq_guilds.testing import Client, create_server, invite_and_join

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"large_server_threshold": 1, "presence_coalesce_seconds": 0.05}


async def test_presence_in_a_large_server_needs_a_subscription(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, friend = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, friend)  # 2 members > threshold 1
    url = (await start_gateway()).url
    listening = await GatewayClient.connect(url)  # shows the member list
    await listening.identify(owner.token)
    await listening.send(Op.SUBSCRIBE_MEMBERS, {"server_id": server["id"]})
    assert (await listening.dispatch("members.subscribed"))["d"]["server_id"] == server["id"]
    elsewhere = await GatewayClient.connect(url)  # another device of the owner, list hidden
    await elsewhere.identify(owner.token)

    friend_client = await GatewayClient.connect(url)
    await friend_client.identify(friend.token)
    await friend_client.send(Op.PRESENCE_UPDATE, {"status": "idle"})
    while (update := await listening.dispatch("presence.update"))["d"]["status"] != "idle":
        assert update["d"]["user_id"] == str(friend.id)
    # Each presence message is delivered to every session of the instance at once, so by now
    # the other device would have its copy queued before the answer to its heartbeat.
    await elsewhere.send(Op.HEARTBEAT, elsewhere.seq)
    while (frame := await elsewhere.receive())["op"] != Op.HEARTBEAT_ACK:
        assert frame["t"] != "presence.update", frame
    for client in (listening, elsewhere, friend_client):
        await client.close()
