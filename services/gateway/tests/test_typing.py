"""Typing: shown to the channel's other viewers, stopped by a message or by silence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Op

from gateway_client import GatewayClient
from guilds_testing import Client, befriend, create_server, invite_and_join, open_dm, text_channel
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
    assert (await _next_typing(watcher))["t"] == "typing.start"
    await typist.frames_until_ack()  # frames are read in order: all three were handled
    sent = await send(messages, owner, channel_id, "typed")
    starts = 0
    while (frame := await watcher.dispatch())["t"] != "message.create":
        starts += frame["t"] == "typing.start"
    assert frame["d"]["message"]["id"] == sent["id"]
    assert starts == 0  # the renewals went nowhere
    # The message ended the typing and its window: typing again at once is shown again.
    assert (await typist.dispatch("message.create"))["d"]["message"]["id"] == sent["id"]
    await typist.send(Op.TYPING, {"channel_id": channel_id})
    # (The message's typing.stop may reach the watcher before or after the message itself.)
    while (again := await _next_typing(watcher))["t"] == "typing.stop":
        pass
    assert again["t"] == "typing.start" and again["d"]["user_id"] == str(owner.id)
    await typist.close()
    await watcher.close()


async def test_typing_in_a_dm_reaches_its_participants_only(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    alice, bob, carol, dave = [await make_user(n) for n in ("alice", "bob", "carol", "dave")]
    await befriend(guilds, alice, bob)
    await befriend(guilds, alice, dave)
    server = await create_server(guilds, carol)  # carol shares a server with all of them
    await invite_and_join(guilds, server, carol, alice, bob, dave)
    group = (await open_dm(guilds, alice, bob, dave))["id"]
    first, second = await start_gateway(), await start_gateway()
    typist = await GatewayClient.connect(first.url)
    await typist.identify(alice.token)
    # bob and carol on the same instance: whatever reached bob's queue would be in carol's
    # too by then, had it been meant for her.
    participant, outsider = [await GatewayClient.connect(second.url) for _ in range(2)]
    await participant.identify(bob.token)
    await outsider.identify(carol.token)

    await typist.send(Op.TYPING, {"channel_id": group})
    started = await _next_typing(participant)
    assert started["t"] == "typing.start"
    assert started["d"]["channel_id"] == group and started["d"]["server_id"] == group
    assert started["d"]["user_id"] == str(alice.id) and set(started["d"]) == {
        "server_id",
        "channel_id",
        "user_id",
        "timestamp",
    }
    assert not [f for f in await outsider.frames_until_ack() if f["t"].startswith("typing.")]

    sent = await send(messages, alice, group, "typed in the group")
    assert (await participant.dispatch("message.create"))["d"]["message"]["id"] == sent["id"]
    stopped = await _next_typing(participant)  # the message ended it, well before 0.5 s
    assert stopped["t"] == "typing.stop" and stopped["d"]["channel_id"] == group
    # carol typing in a DM she is not in goes nowhere.
    await outsider.send(Op.TYPING, {"channel_id": group})
    nudge = await send(messages, alice, group, "anyone?")
    while (frame := await participant.dispatch())["t"] != "message.create":
        assert not frame["t"].startswith("typing."), frame
    assert frame["d"]["message"]["id"] == nudge["id"]
    for client in (typist, participant, outsider):
        await client.close()


async def test_typing_in_a_dm_across_a_block_goes_nowhere(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    alice, bob = await make_user("alice"), await make_user("bob")
    await befriend(guilds, alice, bob)
    dm = (await open_dm(guilds, alice, bob))["id"]
    server = await create_server(guilds, alice)
    await invite_and_join(guilds, server, alice, bob)
    channel_id = (await text_channel(guilds, server, alice))["id"]
    url = (await start_gateway()).url
    typist = await GatewayClient.connect(url)
    await typist.identify(alice.token)
    watcher = await GatewayClient.connect(url)
    await watcher.identify(bob.token)
    await typist.send(Op.TYPING, {"channel_id": dm})
    assert (await _next_typing(watcher))["t"] == "typing.start"
    assert (await _next_typing(watcher))["t"] == "typing.stop"  # silence: 0.5 s
    blocked = await guilds.put(
        f"/api/v1/users/@me/relationships/{alice.id}", json={"kind": "blocked"}, headers=bob.headers
    )
    assert blocked.status_code == 200, blocked.text
    await typist.send(Op.TYPING, {"channel_id": dm})
    # Typing in their shared server still reaches bob, published after the DM's would have
    # been: what bob sees before it holds no typing in the DM.
    await typist.send(Op.TYPING, {"channel_id": channel_id})
    while (frame := await _next_typing(watcher))["d"]["channel_id"] != channel_id:
        assert frame["d"]["channel_id"] != dm or frame["t"] == "typing.stop", frame
    await typist.close()
    await watcher.close()
