"""The messages API in DMs: everything works for participants, and nobody else, whatever
their roles anywhere, can read, search, or be told of a DM's messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, befriend, create_server, invite_and_join, open_dm
from messages_testing import history, send

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_the_whole_messages_api_works_in_a_dm_for_its_participants(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    alice, bob = await make_user("alice"), await make_user("bob")
    await befriend(guilds, alice, bob)
    dm = (await open_dm(guilds, alice, bob))["id"]
    first = await send(client, alice, dm, f"hello <@{bob.id}> @everyone")
    assert first["server_id"] == dm and first["channel_id"] == dm
    assert first["mention_user_ids"] == [str(bob.id)] and first["mention_everyone"] is False
    reply = await send(client, bob, dm, "hi!", reply_to_id=first["id"])
    assert reply["reply_to"]["id"] == first["id"]
    assert [m["id"] for m in await history(client, bob, dm)] == [reply["id"], first["id"]]
    base = f"/api/v1/channels/{dm}/messages"
    edited = await client.patch(
        f"{base}/{first['id']}", json={"content": "hello again"}, headers=alice.headers
    )
    assert edited.status_code == 200 and edited.json()["edited_at"]
    not_theirs = await client.patch(
        f"{base}/{first['id']}", json={"content": "x"}, headers=bob.headers
    )
    assert not_theirs.status_code == 403
    assert (
        await client.put(f"{base}/{first['id']}/reactions/%F0%9F%91%8D/@me", headers=bob.headers)
    ).status_code == 204
    assert (await client.put(f"{base}/{first['id']}/pin", headers=bob.headers)).status_code == 204
    pins = await client.get(f"{base}/pins", headers=alice.headers)
    assert [m["id"] for m in pins.json()] == [first["id"]]
    found = await client.get(
        f"/api/v1/channels/{dm}/messages/search", params={"q": "again"}, headers=bob.headers
    )
    assert found.status_code == 200, found.text
    assert [m["id"] for m in found.json()["messages"]] == [first["id"]]
    # Nobody deletes another's message in a DM (no MANAGE_MESSAGES there).
    assert (await client.delete(f"{base}/{first['id']}", headers=bob.headers)).status_code == 403
    assert (await client.delete(f"{base}/{reply['id']}", headers=bob.headers)).status_code == 204


async def test_no_one_else_reads_searches_or_hears_of_a_dm(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    alice, bob, carol = await make_user("alice"), await make_user("bob"), await make_user("carol")
    # Carol owns a server both are in: every permission there, and nothing in their DM.
    server = await create_server(guilds, carol)
    await invite_and_join(guilds, server, carol, alice, bob)
    dm = (await open_dm(guilds, alice, bob))["id"]
    secret = await send(client, alice, dm, "a secret")
    base = f"/api/v1/channels/{dm}/messages"
    refused = [
        await client.get(base, headers=carol.headers),
        await client.get(f"{base}/{secret['id']}", headers=carol.headers),
        await client.post(base, json={"content": "let me in"}, headers=carol.headers),
        await client.get(f"{base}/search", params={"q": "secret"}, headers=carol.headers),
        await client.get(
            f"/api/v1/servers/{dm}/messages/search", params={"q": "secret"}, headers=carol.headers
        ),
        await client.get(
            f"/api/v1/servers/{dm}/messages/search", params={"q": "secret"}, headers=alice.headers
        ),
        await client.put(
            f"{base}/{secret['id']}/reactions/%F0%9F%91%8D/@me", headers=carol.headers
        ),
        await client.get(f"{base}/pins", headers=carol.headers),
    ]
    assert [r.status_code for r in refused] == [404] * len(refused)
    # Server-wide search in the shared server finds nothing of it, even for the participants.
    in_server = await client.get(
        f"/api/v1/servers/{server['id']}/messages/search",
        params={"q": "secret"},
        headers=alice.headers,
    )
    assert in_server.status_code == 200 and in_server.json()["messages"] == []
    # Its events went to the participants' user subjects only: no server subject carries them,
    # and carol's subject never did.
    subjects = Subjects(namespace)
    for user in (alice, bob):
        mine = await collect_events(
            nats_client, namespace, subjects.user_event(user.id, "message.create"), count=1
        )
        assert [str(e.id) for e in mine] != [] and len(mine) == 1
    carols = await collect_events(
        nats_client, namespace, subjects.user_event(carol.id, "message.>"), count=0
    )
    assert carols == []
    on_servers = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.*.message.>", count=0
    )
    assert on_servers == []


async def test_whoever_leaves_a_group_dm_is_refused_at_once(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    owner, stays, leaves = await make_user("oona"), await make_user("stan"), await make_user("leo")
    for friend in (stays, leaves):
        await befriend(guilds, owner, friend)
    group = (await open_dm(guilds, owner, stays, leaves))["id"]
    await send(client, leaves, group, "bye")  # their access is cached now
    left = await guilds.delete(f"/api/v1/users/@me/channels/{group}", headers=leaves.headers)
    assert left.status_code == 204
    after = await send(client, owner, group, "after they left")
    assert len(await history(client, stays, group)) == 2
    read = await client.get(f"/api/v1/channels/{group}/messages", headers=leaves.headers)
    assert read.status_code == 404
    theirs = await collect_events(
        nats_client, namespace, Subjects(namespace).user_event(leaves.id, "message.create"), count=1
    )
    assert len(theirs) == 1  # "bye" alone, not what followed
    assert b"after they left" not in bytes(theirs[0].data)
    assert after["content"] == "after they left"
