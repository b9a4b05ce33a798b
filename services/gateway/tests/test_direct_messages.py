"""DMs over the gateway: READY carries DMs, relationships (friends with presence) and read
states; a DM's events reach its participants' sessions and nobody else's; an ack on one
device reaches the user's other sessions at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.testing.users import TestUser

from gateway_client import GatewayClient
from guilds_testing import Client, befriend, create_server, invite_and_join, open_dm
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


async def test_dm_events_reach_participants_only_and_acks_reach_other_sessions(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    await befriend(guilds, alice, bob)
    server = await create_server(guilds, carol)  # carol owns a server both are in
    await invite_and_join(guilds, server, carol, alice, bob)
    dm = (await open_dm(guilds, alice, bob))["id"]
    url = (await start_gateway()).url

    bob_client = await GatewayClient.connect(url)
    await bob_client.identify(bob.token)
    desktop, phone, carol_client = [await GatewayClient.connect(url) for _ in range(3)]
    ready = (await desktop.identify(alice.token))["d"]
    await phone.identify(alice.token)
    await carol_client.identify(carol.token)
    assert [c["id"] for c in ready["dm_channels"]] == [dm]
    assert [(r["user"]["id"], r["kind"], r["status"]) for r in ready["relationships"]] == [
        (str(bob.id), "friend", "online")
    ]
    assert ready["read_states"] == []  # nothing sent yet

    hello = await send(messages, bob, dm, f"hi <@{alice.id}>")
    for client in (desktop, phone, bob_client):
        frame = await client.dispatch("message.create")
        assert frame["d"]["message"]["id"] == hello["id"]
    assert "message.create" not in await carol_client.types_until_ack()

    await messages.post(f"/api/v1/channels/{dm}/messages/{hello['id']}/ack", headers=alice.headers)
    acked = (await phone.dispatch("channel.ack"))["d"]
    assert acked == {
        "user_id": str(alice.id),
        "channel_id": dm,
        "message_id": hello["id"],
        "mention_count": 0,
    }
    assert "channel.ack" not in await bob_client.types_until_ack()

    second = await send(messages, bob, dm, f"and <@{alice.id}> again")
    laptop = await GatewayClient.connect(url)
    again = (await laptop.identify(alice.token))["d"]
    [state] = again["read_states"]
    assert state["channel_id"] == dm and state["last_read_id"] == hello["id"]
    assert state["last_message_id"] == second["id"]
    assert (state["unread"], state["mention_count"]) == (True, 1)

    # A block: alice is told only that the friendship ended.
    await guilds.put(
        f"/api/v1/users/@me/relationships/{alice.id}", json={"kind": "blocked"}, headers=bob.headers
    )
    removed = (await phone.dispatch("relationship.remove"))["d"]
    assert removed == {"user_id": str(alice.id), "other_id": str(bob.id)}
    updated = (await bob_client.dispatch("relationship.update"))["d"]
    assert updated["relationship"]["kind"] == "blocked"
    for client in (desktop, phone, laptop, bob_client, carol_client):
        await client.close()
