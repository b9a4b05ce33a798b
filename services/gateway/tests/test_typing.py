"""Typing: shown to the channel's other viewers, stopped by a message or by silence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"typing_timeout_seconds": 0.5, "typing_throttle_seconds": 0.0}


async def _next_typing(client: GatewayClient) -> dict[str, Any]:
    while not (frame := await client.dispatch())["t"].startswith("typing."):
        pass
    return frame


async def test_typing_starts_and_stops_for_the_other_viewers(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    first, second = await start_gateway(), await start_gateway()
    typist = await GatewayClient.connect(first.url)
    await typist.identify(owner.token)
    watcher = await GatewayClient.connect(second.url)  # another instance: typing crosses them
    await watcher.identify(member.token)

    await typist.send(Op.TYPING, {"channel_id": channel_id})
    started = await watcher.dispatch("typing.start")
    assert started["d"]["user_id"] == str(owner.id) and started["d"]["channel_id"] == channel_id
    sent = await send(messages, owner, channel_id, "done typing")
    assert (await watcher.dispatch("message.create"))["d"]["message"]["id"] == sent["id"]
    stopped = await _next_typing(watcher)
    assert stopped["t"] == "typing.stop" and stopped["d"]["user_id"] == str(owner.id)

    await typist.send(Op.TYPING, {"channel_id": channel_id})
    assert (await _next_typing(watcher))["t"] == "typing.start"
    silence = await _next_typing(watcher)  # after 0.5 s without renewal
    assert silence["t"] == "typing.stop"
    # The typist never hears their own typing: before the answer to its heartbeat, it got
    # nothing but the message and presence.
    before_ack = await typist.frames_until_ack()
    assert not [f for f in before_ack if f["t"].startswith("typing.")], before_ack
    await typist.close()
    await watcher.close()


async def test_typing_in_a_channel_one_cannot_post_in_goes_nowhere(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    muted = await guilds.put(
        f"/api/v1/channels/{channel_id}/permissions/{member.id}",
        json={"target_kind": "member", "allow": 0, "deny": int(Permission.SEND_MESSAGES)},
        headers=owner.headers,
    )
    assert muted.status_code == 204
    url = (await start_gateway()).url
    watcher = await GatewayClient.connect(url)
    await watcher.identify(owner.token)
    typist = await GatewayClient.connect(url)
    await typist.identify(member.token)
    await typist.send(Op.TYPING, {"channel_id": channel_id})
    await typist.send(Op.TYPING, {"channel_id": "123"})  # not a channel of theirs
    sent = await send(messages, owner, channel_id, "anyone typing?")
    # Before the message, the watcher got no typing.start (presence updates may come).
    while (frame := await watcher.dispatch())["t"] != "message.create":
        assert not frame["t"].startswith("typing."), frame
    assert frame["d"]["message"]["id"] == sent["id"]
    await typist.close()
    await watcher.close()


@pytest.mark.parametrize(
    "gateway_overrides", [{"typing_timeout_seconds": 8.0, "typing_throttle_seconds": 5.0}]
)
async def test_renewals_within_the_throttle_window_go_out_once(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    url = (await start_gateway()).url
    typist = await GatewayClient.connect(url)
    await typist.identify(owner.token)
    watcher = await GatewayClient.connect(url)
    await watcher.identify(member.token)

    for _ in range(3):  # a client renewing far too eagerly
        await typist.send(Op.TYPING, {"channel_id": channel_id})
    sent = await send(messages, owner, channel_id, "typed")
    starts = 0
    while (frame := await watcher.dispatch())["t"] != "message.create":
        starts += frame["t"] == "typing.start"
    assert frame["d"]["message"]["id"] == sent["id"]
    assert starts == 1
    await typist.close()
    await watcher.close()
