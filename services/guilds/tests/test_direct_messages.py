"""Friends, requests and blocks; DM channels and group DMs; and their access answer, which
is what makes every other service treat a DM as its participants' alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis

from harmoniq_common.access import AccessCache
from harmoniq_common.blocks import BlockCache
from harmoniq_common.bus import Subjects, outgoing_headers
from harmoniq_common.codec import decode
from harmoniq_common.direct import DM_PERMISSIONS
from harmoniq_common.errors import ApiError
from harmoniq_common.events import Envelope, UserDeleted, encode_envelope
from harmoniq_common.ids import SnowflakeGenerator
from harmoniq_common.permissions import Permission
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from guilds_testing import Client, befriend, create_server, invite_and_join, open_dm

MakeUser = Callable[..., Awaitable[TestUser]]
_event_ids = SnowflakeGenerator(1004)  # a worker id apart from the tests' and services' others
REL = "/api/v1/users/@me/relationships"
DMS = "/api/v1/users/@me/channels"


async def _relationships(client: Client, user: TestUser) -> dict[str, str]:
    response = await client.get(REL, headers=user.headers)
    assert response.status_code == 200, response.text
    return {r["user"]["id"]: r["kind"] for r in response.json()}


async def _user_events(
    nats_client: NatsClient, namespace: str, user: TestUser, count: int
) -> list[Envelope]:
    return await collect_events(
        nats_client, namespace, Subjects(namespace).user_events(user.id), count=count
    )


def _kinds(events: list[Envelope]) -> list[tuple[str, Any]]:
    shown = []
    for e in events:
        data = decode(bytes(e.data), dict)
        if e.type == "relationship.update":
            shown.append((e.type, data["relationship"]["kind"]))
        elif e.type == "relationship.remove":
            shown.append((e.type, data["other_id"]))
        else:
            shown.append((e.type, None))
    return shown


async def test_friend_request_by_username_accept_and_remove(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    alice, bob = await make_user("alice_fr"), await make_user("bob_fr")

    async def ask() -> Any:
        response = await client.post(REL, json={"username": "BOB_FR"}, headers=alice.headers)
        return response if response.status_code == 200 else None

    asked = await eventually(ask, what="bob known to guilds")
    assert asked.json()["kind"] == "outgoing"
    assert await _relationships(client, bob) == {str(alice.id): "incoming"}
    accepted = await client.put(f"{REL}/{alice.id}", json={"kind": "friend"}, headers=bob.headers)
    assert accepted.json()["kind"] == "friend"
    assert await _relationships(client, alice) == {str(bob.id): "friend"}
    # Asking again changes nothing and tells nobody anything.
    again = await client.put(f"{REL}/{bob.id}", json={"kind": "friend"}, headers=alice.headers)
    assert again.json()["kind"] == "friend"
    assert (await client.delete(f"{REL}/{bob.id}", headers=alice.headers)).status_code == 204
    assert await _relationships(client, alice) == {}
    assert await _relationships(client, bob) == {}
    gone = await client.delete(f"{REL}/{bob.id}", headers=alice.headers)
    assert gone.status_code == 404 and gone.json()["code"] == "unknown_relationship"

    expected_for_bob = [
        ("user.created", None),
        ("relationship.update", "incoming"),
        ("relationship.update", "friend"),
        ("relationship.remove", str(alice.id)),
    ]
    assert _kinds(await _user_events(nats_client, namespace, bob, 4)) == expected_for_bob
    assert [k for k, _ in _kinds(await _user_events(nats_client, namespace, alice, 4))] == [
        "user.created",
        "relationship.update",
        "relationship.update",
        "relationship.remove",
    ]


async def test_decline_and_cancel(client: Client, make_user: MakeUser) -> None:
    alice, bob = await make_user(), await make_user()
    await client.put(f"{REL}/{bob.id}", json={"kind": "friend"}, headers=alice.headers)
    assert (await client.delete(f"{REL}/{alice.id}", headers=bob.headers)).status_code == 204
    assert await _relationships(client, alice) == {}
    await client.put(f"{REL}/{bob.id}", json={"kind": "friend"}, headers=alice.headers)
    assert (await client.delete(f"{REL}/{bob.id}", headers=alice.headers)).status_code == 204
    assert await _relationships(client, bob) == {}
    self_request = await client.put(
        f"{REL}/{alice.id}", json={"kind": "friend"}, headers=alice.headers
    )
    assert self_request.status_code == 400


async def test_a_block_stops_requests_and_dms_both_ways_and_is_not_told(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    alice, bob = await make_user(), await make_user()
    await befriend(client, alice, bob)
    dm = await open_dm(client, alice, bob)
    blocked = await client.put(f"{REL}/{alice.id}", json={"kind": "blocked"}, headers=bob.headers)
    assert blocked.status_code == 200 and blocked.json()["kind"] == "blocked"
    assert await _relationships(client, bob) == {str(alice.id): "blocked"}
    assert await _relationships(client, alice) == {}
    for asker, other in ((alice, bob), (bob, alice)):
        request = await client.put(
            f"{REL}/{other.id}", json={"kind": "friend"}, headers=asker.headers
        )
        assert request.status_code == 403 and request.json()["code"] == "relationship_refused"
        opened = await client.post(
            DMS, json={"recipient_ids": [str(other.id)]}, headers=asker.headers
        )
        assert opened.status_code == 403 and opened.json()["code"] == "dm_refused"
    # The existing DM stays readable, but nothing new goes either way.
    access = AccessCache(Redis.from_url(_redis_url(client)), nats_client, Subjects(namespace))
    for user in (alice, bob):
        answer = await access.channel(user.id, int(dm["id"]))
        assert answer.allows(Permission.READ_MESSAGE_HISTORY)
        assert not answer.allows(Permission.SEND_MESSAGES)
    # Unblocking: bob's entry goes; alice hears nothing of the block or the unblock.
    assert (await client.delete(f"{REL}/{alice.id}", headers=bob.headers)).status_code == 204
    assert (await access.channel(alice.id, int(dm["id"]))).allows(Permission.SEND_MESSAGES)
    alice_events = _kinds(await _user_events(nats_client, namespace, alice, 5))
    assert "blocked" not in [kind for _, kind in alice_events]
    assert alice_events[-1] == ("relationship.remove", str(bob.id))  # the friendship ended


def _redis_url(client: Client) -> str:
    url: str = client.app.state.platform.settings.redis_url
    return url


async def test_who_may_open_a_dm(client: Client, make_user: MakeUser) -> None:
    owner, mate, stranger = await make_user(), await make_user(), await make_user()
    refused = await client.post(
        DMS, json={"recipient_ids": [str(stranger.id)]}, headers=owner.headers
    )
    assert refused.status_code == 403 and refused.json()["code"] == "dm_refused"
    server = await create_server(client, owner)
    await invite_and_join(client, server, owner, mate)
    first = await client.post(DMS, json={"recipient_ids": [str(mate.id)]}, headers=owner.headers)
    assert first.status_code == 201
    assert first.json()["kind"] == "dm"
    again = await client.post(DMS, json={"recipient_ids": [str(owner.id)]}, headers=mate.headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert {r["id"] for r in first.json()["recipients"]} == {str(owner.id), str(mate.id)}
    # The mate turns DMs from this server off: a new server-mate cannot open one any more.
    privacy = f"/api/v1/servers/{server['id']}/privacy"
    assert (await client.get(privacy, headers=mate.headers)).json() == {"allow_dms": True}
    off = await client.put(privacy, json={"allow_dms": False}, headers=mate.headers)
    assert off.status_code == 200
    latecomer = await make_user()
    await invite_and_join(client, server, owner, latecomer)
    late = await client.post(DMS, json={"recipient_ids": [str(mate.id)]}, headers=latecomer.headers)
    assert late.status_code == 403
    await befriend(client, latecomer, mate)  # friends always may
    assert (
        await client.post(DMS, json={"recipient_ids": [str(mate.id)]}, headers=latecomer.headers)
    ).status_code == 201
    outsider = await client.get(privacy, headers=stranger.headers)
    assert outsider.status_code == 404
    myself = await client.post(DMS, json={"recipient_ids": [str(owner.id)]}, headers=owner.headers)
    assert myself.status_code == 400


async def test_group_dm_owner_adds_and_removes_anyone_leaves(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, *friends = [await make_user() for _ in range(4)]
    for friend in friends:
        await befriend(client, owner, friend)
    a, b, c = friends
    group = await open_dm(client, owner, a, b, name="Plans")
    assert group["kind"] == "group_dm" and group["name"] == "Plans"
    assert group["owner_id"] == str(owner.id)
    gid = group["id"]
    not_owner = await client.put(f"{DMS}/{gid}/recipients/{c.id}", headers=a.headers)
    assert not_owner.status_code == 403
    assert (
        await client.put(f"{DMS}/{gid}/recipients/{c.id}", headers=owner.headers)
    ).status_code == 204
    renamed = await client.patch(f"{DMS}/{gid}", json={"name": "Trip"}, headers=b.headers)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Trip"
    assert len(renamed.json()["recipients"]) == 4
    assert (await client.delete(f"{DMS}/{gid}", headers=a.headers)).status_code == 204
    removed = await client.delete(f"{DMS}/{gid}/recipients/{b.id}", headers=owner.headers)
    assert removed.status_code == 204
    mine = (await client.get(DMS, headers=owner.headers)).json()
    assert [r["id"] for r in mine[0]["recipients"]] == [str(owner.id), str(c.id)]
    assert (await client.get(DMS, headers=a.headers)).json() == []
    # Whoever is gone sees nothing more of it; a stranger never did.
    access = AccessCache(Redis.from_url(_redis_url(client)), nats_client, Subjects(namespace))
    answer = await access.channel(owner.id, int(gid))
    assert answer.server_id == int(gid) and answer.kind == "group_dm"
    assert answer.permissions == DM_PERMISSIONS
    assert set(answer.recipient_ids) == {owner.id, c.id}
    for outsider in (a, b):
        with pytest.raises(ApiError) as refused:
            await access.channel(outsider.id, int(gid))
        assert refused.value.status_code == 404
    # a got the group, then lost it.
    a_events = [e.type for e in await _user_events(nats_client, namespace, a, 7)]
    assert "dm_channel.create" in a_events and a_events[-1] == "dm_channel.delete"
    # The owner leaves: the group passes on.
    assert (await client.delete(f"{DMS}/{gid}", headers=owner.headers)).status_code == 204
    left = (await client.get(DMS, headers=c.headers)).json()
    assert left[0]["owner_id"] == str(c.id)


async def test_group_dm_limits(client: Client, make_user: MakeUser) -> None:
    owner = await make_user()
    friends = [await make_user() for _ in range(10)]
    for friend in friends:
        await befriend(client, owner, friend)
    too_many = await client.post(
        DMS, json={"recipient_ids": [str(f.id) for f in friends]}, headers=owner.headers
    )
    assert too_many.status_code == 400
    group = await open_dm(client, owner, *friends[:9])
    full = await client.put(
        f"{DMS}/{group['id']}/recipients/{friends[9].id}", headers=owner.headers
    )
    assert full.status_code == 400 and full.json()["code"] == "too_many_recipients"
    dm = await open_dm(client, owner, friends[0])
    not_group = await client.patch(f"{DMS}/{dm['id']}", json={"name": "x"}, headers=owner.headers)
    assert not_group.status_code == 400
    # Newest activity first: the DM opened last leads.
    listed = (await client.get(DMS, headers=owner.headers)).json()
    assert [c["id"] for c in listed[:2]] == [dm["id"], group["id"]]


async def test_a_deleted_account_leaves_everyones_relationships(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    redis_client: Redis,
    namespace: str,
) -> None:
    gone, friend, blocker = await make_user(), await make_user(), await make_user()
    await befriend(client, gone, friend)
    await client.put(f"{REL}/{gone.id}", json={"kind": "blocked"}, headers=blocker.headers)
    # The blocker's list as messages caches it (under the blocker's epoch).
    blocks = BlockCache(redis_client, nats_client, Subjects(namespace))
    assert await blocks.blocked_by(blocker.id) == {gone.id}
    deleted = UserDeleted(user_id=gone.id, deleted_at=datetime.now(UTC))
    now = datetime.now(UTC)
    event_id = _event_ids.next_id()
    await nats_client.jetstream().publish(
        Subjects(namespace).user_event(gone.id, deleted.event_type),
        encode_envelope(event_id, deleted, now),
        headers=outgoing_headers(msg_id=str(event_id)),
    )

    async def forgotten() -> bool:
        return (
            await _relationships(client, friend) == {}
            and await _relationships(client, blocker) == {}
        )

    await eventually(forgotten, what="the deleted account out of every list")
    # The cached list moved with it: the block goes within moments, not when the cache expires
    # (minutes later).

    async def unblocked() -> bool:
        return await blocks.blocked_by(blocker.id) == frozenset()

    await eventually(unblocked, what="the blocker's cached list without the deleted account")
    removed = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).user_event(friend.id, "relationship.remove"),
        count=1,
    )
    assert decode(bytes(removed[0].data), dict)["other_id"] == str(gone.id)


async def test_dm_privacy_is_enforced_and_each_change_is_an_event_to_oneself(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, mate, asker = await make_user(), await make_user(), await make_user()
    server = await create_server(client, owner)
    await invite_and_join(client, server, owner, mate, asker)
    privacy = f"/api/v1/servers/{server['id']}/privacy"
    off = await client.put(privacy, json={"allow_dms": False}, headers=mate.headers)
    assert off.status_code == 200 and off.json() == {"allow_dms": False}
    refused = await client.post(DMS, json={"recipient_ids": [str(mate.id)]}, headers=asker.headers)
    assert refused.status_code == 403 and refused.json()["code"] == "dm_refused"
    # Nor into a group DM of someone they may otherwise DM.
    await befriend(client, asker, owner)
    group = await client.post(
        DMS, json={"recipient_ids": [str(owner.id), str(mate.id)]}, headers=asker.headers
    )
    assert group.status_code == 403 and group.json()["code"] == "dm_refused"
    on = await client.put(privacy, json={"allow_dms": True}, headers=mate.headers)
    assert on.status_code == 200
    opened = await client.post(DMS, json={"recipient_ids": [str(mate.id)]}, headers=asker.headers)
    assert opened.status_code == 201, opened.text

    changes = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).user_event(mate.id, "dm_privacy.update"),
        count=2,
    )
    assert [decode(bytes(e.data), dict) for e in changes] == [
        {"user_id": str(mate.id), "server_id": server["id"], "allow_dms": allowed}
        for allowed in (False, True)
    ]
    # Nobody else is told (the asker's own subject carries no such event).
    others = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).user_event(asker.id, "dm_privacy.update"),
        count=0,
    )
    assert others == []
