"""Presence: aggregated over devices and instances, coalesced, and expiring with dead instances."""

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
    await survivor.gateway.presence.set(int(friend.id), [int(server["id"])], "f" * 32, "online")
    assert await _presence_of(watcher, friend) == "online"
    # The sweeper sees its expiry pass (2.5 heartbeat intervals = 5 s here).
    assert await _presence_of(watcher, friend) == "offline"
    await watcher.close()
