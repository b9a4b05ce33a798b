"""Bots on the gateway: IDENTIFY with ``Bot <token>``, events like any member, reset closes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.ids import Snowflake
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


async def test_a_bot_identifies_with_its_token_and_takes_part_until_it_is_reset(
    auth_client: Client,
    guilds: Client,
    messages: Client,
    make_user: MakeUser,
    start_gateway: StartGateway,
) -> None:
    owner = await make_user("olga")
    made = await auth_client.post(
        "/api/v1/bots", json={"username": "helper"}, headers=owner.headers
    )
    assert made.status_code == 201, made.text
    bot = TestUser(Snowflake(made.json()["bot"]["id"]), "helper", made.json()["token"], "Bot")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, bot)  # bots join by invite, like anyone
    channel_id = (await text_channel(guilds, server, owner))["id"]
    url = (await start_gateway()).url

    bot_client = await GatewayClient.connect(url)
    ready = await bot_client.identify(bot.credential)
    assert ready["d"]["user"]["id"] == str(bot.id)
    assert [s["server"]["id"] for s in ready["d"]["servers"]] == [server["id"]]
    watcher = await GatewayClient.connect(url)
    await watcher.identify(owner.token)

    hello = await send(messages, owner, channel_id, "hello bot")
    assert (await bot_client.dispatch("message.create"))["d"]["message"]["id"] == hello["id"]
    answer = await send(messages, bot, channel_id, "beep")  # Authorization: Bot <token>
    while (frame := await watcher.dispatch("message.create"))["d"]["message"]["id"] != answer["id"]:
        pass
    assert frame["d"]["message"]["author"] == {
        "id": str(bot.id),
        "username": "helper",
        "avatar_url": None,
    }

    reset = await auth_client.post(f"/api/v1/bots/{bot.id}/token", headers=owner.headers)
    assert reset.status_code == 200, reset.text
    assert (await bot_client.closed())[0] == Close.TOKEN_REVOKED
    stale = await GatewayClient.connect(url)
    await stale.send(Op.IDENTIFY, {"token": bot.credential})
    assert (await stale.closed())[0] == Close.AUTHENTICATION_FAILED
    fresh = await GatewayClient.connect(url)
    assert (await fresh.identify(f"Bot {reset.json()['token']}"))["d"]["user"]["id"] == str(bot.id)
    for client in (watcher, fresh):
        await client.close()
