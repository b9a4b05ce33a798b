"""Overload: past the backlog threshold typing is dropped (and counted) while messages keep
flowing. The threshold is -1 here, as if delivery were always behind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.metrics import SHED
from harmoniq_gateway.protocol import Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"shed_typing_backlog": -1}


async def test_typing_is_shed_first_and_messages_still_arrive(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, friend = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, friend)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    url = (await start_gateway()).url
    typist, watcher = await GatewayClient.connect(url), await GatewayClient.connect(url)
    await typist.identify(friend.token)
    await watcher.identify(owner.token)
    shed = SHED.labels(kind="typing")._value.get()
    await typist.send(Op.TYPING, {"channel_id": channel_id})
    await typist.frames_until_ack()  # the typing frame was handled before this heartbeat
    sent = await send(messages, friend, channel_id, "still delivered")
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1].get("t") != "message.create":
        frames.append(await watcher.receive())
    assert frames[-1]["d"]["message"]["id"] == sent["id"]
    assert "typing.start" not in {f.get("t") for f in frames}
    assert SHED.labels(kind="typing")._value.get() > shed
    for client in (typist, watcher):
        await client.close()
