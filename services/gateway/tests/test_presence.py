"""Presence: aggregated over devices and instances, coalesced, and expiring with dead instances."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

import pytest
from redis.asyncio import Redis

from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually
from harmoniq_gateway.protocol import Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {
        "presence_coalesce_seconds": 0.05,
        "presence_sweep_interval_seconds": 0.2,
        "heartbeat_interval_ms": 2000,
    }


async def _presence_of(client: GatewayClient, user: TestUser) -> str:
    while True:
        frame = await client.dispatch("presence.update")
        if frame["d"]["user_id"] == str(user.id):
            status: str = frame["d"]["status"]
            return status


async def test_status_is_the_best_of_all_devices_and_goes_offline_after_the_last(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, friend = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, friend)
    first, second = await start_gateway(), await start_gateway()
    watcher = await GatewayClient.connect(first.url)
    await watcher.identify(owner.token)
    watcher.start_heartbeats()

    phone = await GatewayClient.connect(second.url)
    await phone.send(Op.IDENTIFY, {"token": friend.token, "status": "idle"})
    await phone.dispatch("ready")
    phone.start_heartbeats()
    assert await _presence_of(watcher, friend) == "idle"
    desktop = await GatewayClient.connect(first.url)
    await desktop.identify(friend.token)  # online beats idle
    desktop.start_heartbeats()
    assert await _presence_of(watcher, friend) == "online"
    await desktop.send(Op.PRESENCE_UPDATE, {"status": "dnd"})
    assert await _presence_of(watcher, friend) == "dnd"
    await desktop.close()
    assert await _presence_of(watcher, friend) == "idle"  # the phone is still there
    await phone.send(Op.PRESENCE_UPDATE, {"status": "invisible"})
    assert await _presence_of(watcher, friend) == "offline"
    await phone.close()
    await watcher.close()


async def test_a_dead_instance_does_not_leave_anyone_online(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, friend = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, friend)
    survivor = await start_gateway()
    watcher = await GatewayClient.connect(survivor.url)
    await watcher.identify(owner.token)
    watcher.start_heartbeats()
    # A session on an instance that then died: recorded, never renewed, never removed.
    await survivor.gateway.presence.set_servers(int(friend.id), [int(server["id"])])
    await survivor.gateway.presence.set(int(friend.id), "f" * 32, "online")
    assert await _presence_of(watcher, friend) == "online"
    # The sweeper sees its expiry pass (2.5 heartbeat intervals = 5 s here).
    assert await _presence_of(watcher, friend) == "offline"
    await watcher.close()


async def test_ready_and_op_8_carry_who_is_online_now(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, friend = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, friend)
    url = (await start_gateway()).url
    watcher = await GatewayClient.connect(url)
    first_ready = await watcher.identify(owner.token)
    assert first_ready["d"]["presences"] == []  # nobody else is on
    phone = await GatewayClient.connect(url)
    await phone.send(Op.IDENTIFY, {"token": friend.token, "status": "dnd"})
    await phone.dispatch("ready")
    assert await _presence_of(watcher, friend) == "dnd"

    laptop = await GatewayClient.connect(url)  # the owner's second device starts from READY
    ready = await laptop.identify(owner.token)
    assert ready["d"]["presences"] == [
        {"server_id": server["id"], "user_id": str(friend.id), "status": "dnd", "last_seen": None}
    ]
    await laptop.send(Op.SUBSCRIBE_MEMBERS, {"server_id": server["id"]})
    subscribed = await laptop.dispatch("members.subscribed")
    assert [p["user_id"] for p in subscribed["d"]["presences"]] == [str(friend.id)]

    await phone.close()
    offline = await watcher.dispatch("presence.update")
    assert offline["d"]["status"] == "offline" and offline["d"]["last_seen"] > 0
    later = await GatewayClient.connect(url)
    assert (await later.identify(owner.token))["d"]["presences"] == []
    for client in (watcher, laptop, later):
        await client.close()


async def test_a_member_who_left_no_longer_shows_there(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, friend, other = await make_user("olga"), await make_user("max"), await make_user()
    left, stayed = await create_server(guilds, owner), await create_server(guilds, other)
    await invite_and_join(guilds, left, owner, friend)
    await invite_and_join(guilds, stayed, other, friend)
    url = (await start_gateway()).url
    phone = await GatewayClient.connect(url)
    await phone.identify(friend.token)
    response = await guilds.delete(
        f"/api/v1/servers/{left['id']}/members/@me", headers=friend.headers
    )
    assert response.status_code == 204, response.text
    gone = await phone.dispatch("member.left")
    assert gone["d"]["server_id"] == left["id"]

    watcher = await GatewayClient.connect(url)  # in the server they left
    assert (await watcher.identify(owner.token))["d"]["presences"] == []
    friend_side = await GatewayClient.connect(url)  # in the server they stayed in
    ready = await friend_side.identify(other.token)
    assert [p["server_id"] for p in ready["d"]["presences"]] == [stayed["id"]]
    await phone.send(Op.PRESENCE_UPDATE, {"status": "idle"})
    # The phone's coming online is coalesced, so it may arrive after READY said as much.
    while (status := await _presence_of(friend_side, friend)) == "online":
        pass
    assert status == "idle"
    # Had it gone to `left` too, the owner's copy would be queued by now: their next frame
    # after a heartbeat is the acknowledgement.
    assert "presence.update" not in await watcher.types_until_ack()
    for client in (phone, watcher, friend_side):
        await client.close()


async def test_heartbeats_renew_presence_even_after_redis_forgets_its_scripts(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway, redis_client: Redis
) -> None:
    owner = await make_user("olga")
    await create_server(guilds, owner)
    instance = await start_gateway()
    client = await GatewayClient.connect(instance.url)
    await client.identify(owner.token)
    presence = instance.gateway.presence
    expiries = presence.update_args(int(owner.id), "", "")["keys"][1]

    async def expiry() -> float:
        found = await redis_client.zrange(expiries, 0, 0, withscores=True)
        [(_, score)] = cast(list[tuple[bytes, float]], found)  # redis-py's union of shapes
        return float(score)

    before = await expiry()
    await redis_client.script_flush()  # as after a Redis restart
    await client.frames_until_ack()
    assert await eventually(lambda: _later(expiry, before), what="the expiry renewed")
    assert await presence.status_of(int(owner.id)) == "online"
    await client.frames_until_ack()  # and the connection is still fine
    await client.close()


async def _later(read: Callable[[], Awaitable[float]], than: float) -> bool:
    return await read() > than


async def test_presence_comes_back_after_redis_lost_it(
    guilds: Client,
    make_user: MakeUser,
    start_gateway: StartGateway,
    redis_client: Redis,
    namespace: str,
) -> None:
    """Redis restarted empty: the next heartbeat writes the user's presence and servers again,
    so the others' READY shows them online (a restart keeps no presence)."""
    owner, friend = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, friend)
    gateway = await start_gateway()
    online = await GatewayClient.connect(gateway.url)
    await online.identify(friend.token)
    for key in await redis_client.keys(f"{namespace}:presence:*"):
        await redis_client.delete(key)
    assert await redis_client.keys(f"{namespace}:presence:*") == []
    await online.frames_until_ack()  # one heartbeat, as the client's next one would be

    async def seen_online() -> bool:
        watcher = await GatewayClient.connect(gateway.url)
        try:
            ready = await watcher.identify(owner.token)
        finally:
            await watcher.close()
        return (str(friend.id), "online") in {
            (p["user_id"], p["status"]) for p in ready["d"]["presences"]
        }

    assert await eventually(seen_online, timeout=5, what="presence written again")
    await online.close()
