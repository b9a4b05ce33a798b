"""Webhooks on the gateway: a webhook's message reaches members live like any other, and the
webhook's own events only those who manage webhooks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.testing.users import TestUser

import bots_testing
from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]

bots = bots_testing.bots  # the bots service in-process (a fixture)


async def test_a_webhook_message_is_delivered_live_and_its_events_to_managers_only(
    guilds: Client,
    messages: Client,
    bots: Client,
    make_user: MakeUser,
    start_gateway: StartGateway,
) -> None:
    owner, member = await make_user("olga"), await make_user("mia")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel_id = str((await text_channel(guilds, server, owner))["id"])
    url = (await start_gateway()).url
    manager = await GatewayClient.connect(url)
    await manager.identify(owner.token)
    reader = await GatewayClient.connect(url)
    await reader.identify(member.token)

    hook = await bots_testing.create_webhook(bots, owner, str(server["id"]), channel_id, "CI")
    created = await manager.dispatch("webhook.create")
    assert created["d"]["webhook"]["id"] == hook["id"]
    assert "token" not in str(created["d"])

    posted = await bots.post(hook["url"], json={"content": "deployed", "username": "Deploy"})
    assert posted.status_code == 204, posted.text
    seen: list[dict[str, Any]] = []
    while (frame := await reader.dispatch())["t"] != "message.create":
        seen.append(frame)
    message = frame["d"]["message"]
    assert message["webhook_id"] == hook["id"]
    assert message["author"] == {"id": hook["id"], "username": "Deploy", "avatar_url": None}
    assert message["content"] == "deployed"
    # webhook.create came before the message on the server's subject: a plain member never
    # got it.
    assert [f["t"] for f in seen if str(f["t"]).startswith("webhook.")] == []
    assert (await manager.dispatch("message.create"))["d"]["message"]["id"] == message["id"]
    for client in (manager, reader):
        await client.close()
