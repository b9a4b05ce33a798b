"""In large servers presence goes only to sessions that asked for the member list (op 8)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join, join

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]
PAGE = 50


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {
        "large_server_threshold": 1,
        "presence_coalesce_seconds": 0.05,
        "members_page_size": PAGE,
    }


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
    assert "presence.update" not in await elsewhere.types_until_ack()
    for client in (listening, elsewhere, friend_client):
        await client.close()


async def _no_presence_before_ack(client: GatewayClient) -> None:
    """Presence messages reach every local recipient at once: had this client been one, its
    copy would be queued before the answer to a heartbeat sent now."""
    assert "presence.update" not in await client.types_until_ack()


async def test_a_server_that_grows_large_switches_to_subscriptions_and_back_out(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, friend, third = await make_user("olga"), await make_user("max"), await make_user()
    server = await create_server(guilds, owner)
    code = await invite_and_join(guilds, server, owner, friend)
    gateway = await start_gateway()
    gateway.gateway.presence.large_server = 2  # two members: small, for now
    listening = await GatewayClient.connect(gateway.url)
    await listening.identify(owner.token)
    await listening.send(Op.SUBSCRIBE_MEMBERS, {"server_id": server["id"]})
    await listening.dispatch("members.subscribed")
    elsewhere = await GatewayClient.connect(gateway.url)
    await elsewhere.identify(owner.token)
    friend_client = await GatewayClient.connect(gateway.url)
    await friend_client.identify(friend.token)
    assert (await elsewhere.dispatch("presence.update"))["d"]["status"] == "online"

    await join(guilds, code, third)  # three members: large
    assert (await elsewhere.dispatch("member.joined"))["d"]["member"]["user"]["id"] == str(third.id)
    await friend_client.send(Op.PRESENCE_UPDATE, {"status": "idle"})
    while (await listening.dispatch("presence.update"))["d"]["status"] != "idle":
        pass
    await _no_presence_before_ack(elsewhere)

    await listening.send(Op.SUBSCRIBE_MEMBERS, {"server_id": server["id"], "subscribe": False})
    await listening.frames_until_ack()  # handled in order: unsubscribed by its ack
    watcher = await GatewayClient.connect(gateway.url)  # still subscribed, to know when
    await watcher.identify(third.token)
    await watcher.send(Op.SUBSCRIBE_MEMBERS, {"server_id": server["id"]})
    await watcher.dispatch("members.subscribed")
    await friend_client.send(Op.PRESENCE_UPDATE, {"status": "dnd"})
    while (await watcher.dispatch("presence.update"))["d"]["status"] != "dnd":
        pass
    await _no_presence_before_ack(listening)
    for client in (listening, elsewhere, friend_client, watcher):
        await client.close()


async def test_who_is_online_comes_a_page_at_a_time(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway, redis_client: Redis
) -> None:
    owner, friend = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, friend)
    gateway = await start_gateway()
    friend_client = await GatewayClient.connect(gateway.url)
    await friend_client.identify(friend.token)
    listening = await GatewayClient.connect(gateway.url)
    await listening.identify(owner.token)
    # A crowd online, as presence keeps it (far more than a page, and a real hash table).
    crowd: dict[FieldT, EncodableT] = {str(10**17 + i): "online" for i in range(600)}
    online_key = gateway.gateway.presence._online_key(int(server["id"]))
    await redis_client.hset(online_key, mapping=crowd)

    pages, seen = 0, set()
    cursor = None
    while True:
        ask = {"server_id": server["id"]} | ({"cursor": cursor} if cursor else {})
        await listening.send(Op.SUBSCRIBE_MEMBERS, ask)
        page = (await listening.dispatch("members.subscribed"))["d"]
        pages += 1
        assert len(page["presences"]) < 4 * PAGE  # a page, not everyone
        seen |= {p["user_id"] for p in page["presences"]}
        cursor = page["cursor"]
        if cursor is None:
            break
    assert seen == set(crowd) | {str(friend.id)}  # everyone but themselves, none twice over
    assert pages >= 600 // (2 * PAGE)
    # Changes flow from the first page on.
    await friend_client.send(Op.PRESENCE_UPDATE, {"status": "dnd"})
    while (await listening.dispatch("presence.update"))["d"]["status"] != "dnd":
        pass
    await listening.send(Op.SUBSCRIBE_MEMBERS, {"server_id": server["id"], "cursor": "x"})
    assert (await listening.closed())[0] == Close.DECODE_ERROR
    for client in (listening, friend_client):
        await client.close()
