"""Access over NATS, as other services see it through ``AccessCache``: right answers, cached
while nothing changes, and a change visible on the very next question (the epoch moved)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from nats.aio.subscription import Subscription
from redis.asyncio import Redis

from harmoniq_common.access import (
    CHANNEL_ACCESS,
    SERVER_ACCESS,
    SERVER_ACCESS_BATCH,
    SERVER_ACCESS_MANY,
    AccessCache,
    ServerAccess,
    ServerAccessMany,
    ServerAccessManyRequest,
    ServerAccessRequest,
)
from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import ALL, DEFAULT_MEMBER, DEFAULT_MODERATOR, Permission
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, Crew, join, make_crew, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]
P = Permission


class Questions:
    """Counts the questions guilds is asked, by listening on the RPC subject alongside it."""

    def __init__(self, nats: NatsClient, subscription: Subscription) -> None:
        self._nats = nats
        self._subscription = subscription

    async def count(self) -> int:
        # A request is delivered to us before guilds can reply to it; after a round trip to
        # the server every request made so far has been counted.
        await self._nats.flush()
        return self._subscription.delivered


async def _questions(nats_client: NatsClient, subject: str) -> AsyncIterator[Questions]:
    subscription = await nats_client.subscribe(subject)
    await nats_client.flush()
    yield Questions(nats_client, subscription)
    await subscription.unsubscribe()


@pytest_asyncio.fixture(loop_scope="session")
async def channel_questions(
    client: Client, nats_client: NatsClient, namespace: str
) -> AsyncIterator[Questions]:
    async for questions in _questions(
        nats_client, Subjects(namespace).rpc("guilds", CHANNEL_ACCESS)
    ):
        yield questions


@pytest_asyncio.fixture(loop_scope="session")
async def server_questions(
    client: Client, nats_client: NatsClient, namespace: str
) -> AsyncIterator[Questions]:
    async for questions in _questions(
        nats_client, Subjects(namespace).rpc("guilds", SERVER_ACCESS)
    ):
        yield questions


@pytest.fixture
def cache(
    client: Client, redis_client: Redis, nats_client: NatsClient, namespace: str
) -> AccessCache:
    """What messages, the gateway and the others use (the guilds app is up: ``client``)."""
    return AccessCache(redis_client, nats_client, Subjects(namespace))


async def _epoch(redis_client: Redis, namespace: str, crew: Crew) -> int:
    return int(await redis_client.get(f"{namespace}:access:epoch:{crew.id}") or 0)


async def _refused(cache: AccessCache, user: TestUser, channel_id: int) -> int:
    with pytest.raises(ApiError) as refused:
        await cache.channel(user.id, channel_id)
    return refused.value.status_code


async def test_answers_for_members_and_others(
    client: Client, make_user: MakeUser, cache: AccessCache
) -> None:
    crew = await make_crew(client, make_user)
    stranger = await make_user("stranger")
    channel = int((await text_channel(client, crew.server, crew.owner))["id"])
    roles = sorted(
        int(r["id"])
        for r in (await client.get(crew.url("/roles"), headers=crew.owner.headers)).json()
    )
    for user, permissions in (
        (crew.owner, ALL),
        (crew.admin, ALL),
        (crew.moderator, DEFAULT_MODERATOR),
        (crew.member, DEFAULT_MEMBER),
    ):
        answer = await cache.channel(user.id, channel)
        assert (answer.server_id, answer.channel_id, answer.kind) == (
            crew.server_id,
            channel,
            "text",
        )
        assert answer.permissions == int(permissions), user.name
        assert answer.role_ids == roles
    assert await _refused(cache, stranger, channel) == 404
    assert await _refused(cache, crew.member, 42) == 404
    banned = await client.put(crew.url(f"/bans/{crew.member.id}"), headers=crew.owner.headers)
    assert banned.status_code == 204
    assert await _refused(cache, crew.member, channel) == 404


async def test_cached_until_a_change_then_asked_again(
    client: Client,
    make_user: MakeUser,
    cache: AccessCache,
    channel_questions: Questions,
    redis_client: Redis,
    namespace: str,
) -> None:
    crew = await make_crew(client, make_user)
    channel = int((await text_channel(client, crew.server, crew.owner))["id"])
    member, moderator = crew.member, crew.moderator

    # The first answer teaches the cache the channel's server, the second is stored under the
    # server's epoch; from then on nothing is asked while nothing changes.
    asked = await channel_questions.count()
    for _ in range(4):
        assert (await cache.channel(member.id, channel)).permissions == int(DEFAULT_MEMBER)
    assert await channel_questions.count() == asked + 2
    epoch = await _epoch(redis_client, namespace, crew)
    cached = f"{namespace}:access:{crew.id}:{epoch}:c:{channel}:{member.id}"
    assert await redis_client.exists(cached)
    await cache.channel(member.id, channel)
    assert await channel_questions.count() == asked + 2
    assert await _epoch(redis_client, namespace, crew) == epoch
    # The moderator's answer is their own.
    await cache.channel(moderator.id, channel)
    assert (await cache.channel(moderator.id, channel)).permissions == int(DEFAULT_MODERATOR)
    assert await channel_questions.count() == asked + 3

    # A role losing SEND_MESSAGES: the very next answer says so.
    taken = await client.patch(
        crew.url(f"/roles/{crew.id}"),
        json={"permissions": int(DEFAULT_MEMBER & ~P.SEND_MESSAGES)},
        headers=crew.owner.headers,
    )
    assert taken.status_code == 200
    assert await _epoch(redis_client, namespace, crew) > epoch
    answer = await cache.channel(member.id, channel)
    assert not answer.allows(P.SEND_MESSAGES)
    assert answer.allows(P.VIEW_CHANNEL)
    assert await channel_questions.count() == asked + 4
    await cache.channel(member.id, channel)
    assert await channel_questions.count() == asked + 4  # cached again, under the new epoch

    # A private-channel overwrite: the moderator no longer sees the channel.
    epoch = await _epoch(redis_client, namespace, crew)
    hidden = await client.put(
        f"/api/v1/channels/{channel}/permissions/{crew.id}",
        json={"target_kind": "role", "deny": int(P.VIEW_CHANNEL)},
        headers=crew.owner.headers,
    )
    assert hidden.status_code == 204
    assert await _epoch(redis_client, namespace, crew) > epoch
    assert await _refused(cache, moderator, channel) == 404
    assert (await cache.channel(crew.admin.id, channel)).permissions == int(ALL)

    # A kick: the very next question is refused.
    shown = await client.delete(
        f"/api/v1/channels/{channel}/permissions/{crew.id}", headers=crew.owner.headers
    )
    assert shown.status_code == 204
    assert (await cache.channel(member.id, channel)).allows(P.VIEW_CHANNEL)
    epoch = await _epoch(redis_client, namespace, crew)
    kicked = await client.delete(crew.url(f"/members/{member.id}"), headers=crew.owner.headers)
    assert kicked.status_code == 204
    assert await _epoch(redis_client, namespace, crew) == epoch + 1
    assert await _refused(cache, member, channel) == 404


async def test_server_access_lists_only_what_the_member_may_see(
    client: Client,
    make_user: MakeUser,
    cache: AccessCache,
    server_questions: Questions,
) -> None:
    crew = await make_crew(client, make_user)
    created = await client.post(
        crew.url("/channels"), json={"name": "staff"}, headers=crew.owner.headers
    )
    staff = created.json()["id"]
    hidden = await client.put(
        f"/api/v1/channels/{staff}/permissions/{crew.id}",
        json={"target_kind": "role", "deny": int(P.VIEW_CHANNEL)},
        headers=crew.owner.headers,
    )
    assert hidden.status_code == 204
    mute = await client.put(
        f"/api/v1/channels/{staff}/permissions/{crew.moderator.id}",
        json={"target_kind": "member", "allow": int(P.VIEW_CHANNEL), "deny": int(P.SEND_MESSAGES)},
        headers=crew.owner.headers,
    )
    assert mute.status_code == 204
    channels = {
        c["name"]: int(c["id"])
        for c in (await client.get(crew.url("/channels"), headers=crew.owner.headers)).json()
    }

    asked = await server_questions.count()
    mine = await cache.server(crew.member.id, int(crew.id))
    assert {c.channel_id: c.permissions for c in mine.channels} == {
        channels["general"]: int(DEFAULT_MEMBER),
        # In a voice channel the text-only bits stay; nothing implicit is taken.
        channels["General"]: int(DEFAULT_MEMBER),
    }
    theirs = await cache.server(crew.moderator.id, int(crew.id))
    assert theirs.channels_allowing(P.VIEW_CHANNEL) == [
        channels["general"],
        channels["General"],
        channels["staff"],
    ]
    assert channels["staff"] not in theirs.channels_allowing(P.SEND_MESSAGES)
    admin = await cache.server(crew.admin.id, int(crew.id))
    assert all(c.permissions == int(ALL) for c in admin.channels)
    assert len(admin.channels) == 3
    assert await server_questions.count() == asked + 3
    assert await cache.server(crew.member.id, int(crew.id)) == mine  # from the cache
    assert await server_questions.count() == asked + 3

    stranger = await make_user("stranger")
    with pytest.raises(ApiError) as refused:
        await cache.server(stranger.id, int(crew.id))
    assert refused.value.status_code == 404


async def test_many_members_access_in_one_question(
    client: Client,
    make_user: MakeUser,
    cache: AccessCache,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    crew = await make_crew(client, make_user)
    stranger = await make_user("stranger")
    users = [crew.owner, crew.admin, crew.moderator, crew.member, stranger]
    alone = {u.id: await cache.server(u.id, int(crew.id)) for u in users[:4]}
    async for many_questions in _questions(
        nats_client, Subjects(namespace).rpc("guilds", SERVER_ACCESS_MANY)
    ):
        # The same answers as one at a time, in one question ...
        assert await cache.servers(int(crew.id), [u.id for u in users[:4]]) == alone
        assert await many_questions.count() == 1
        # ... and after a change, one question for all, strangers left out.
        taken = await client.patch(
            crew.url(f"/roles/{crew.id}"),
            json={"permissions": int(DEFAULT_MEMBER & ~P.SEND_MESSAGES)},
            headers=crew.owner.headers,
        )
        assert taken.status_code == 200
        answers = await cache.servers(int(crew.id), [u.id for u in users] * 2)
        assert await many_questions.count() == 2
        assert set(answers) == {u.id for u in users[:4]}
        assert answers[crew.member.id].channels_allowing(P.SEND_MESSAGES) == []
        assert answers[crew.member.id] != alone[crew.member.id]
        assert answers[crew.admin.id].channels == alone[crew.admin.id].channels
        for user in users[:4]:  # what one question for each would have said
            single = await request(
                nats_client,
                Subjects(namespace).rpc("guilds", SERVER_ACCESS),
                ServerAccessRequest(user_id=Snowflake(user.id), server_id=crew.server_id),
                ServerAccess,
            )
            assert answers[user.id] == single
        # Past the batch size: one more question per hundred users.
        many = [crew.member.id] + [10**17 + i for i in range(SERVER_ACCESS_BATCH)]
        assert set(await cache.servers(int(crew.id), many)) == {crew.member.id}
        assert await many_questions.count() == 4
    assert await cache.servers(404, [crew.member.id]) == {}  # unknown server: nobody

    # Members alike share an answer, except where an overwrite names one of them.
    twin = await make_user("twin")
    await join(client, crew.code, twin)
    channel = int((await text_channel(client, crew.server, crew.owner))["id"])
    singled_out = await client.put(
        f"/api/v1/channels/{channel}/permissions/{crew.member.id}",
        json={"target_kind": "member", "deny": int(P.VIEW_CHANNEL)},
        headers=crew.owner.headers,
    )
    assert singled_out.status_code == 204
    answers = await cache.servers(int(crew.id), [crew.member.id, twin.id])
    assert channel in answers[twin.id].channels_allowing(P.VIEW_CHANNEL)
    assert channel not in answers[crew.member.id].channels_allowing(P.VIEW_CHANNEL)
    assert answers[crew.member.id].user_id == crew.member.id


async def test_many_members_question_is_bounded(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    too_many = ServerAccessManyRequest(
        server_id=Snowflake(1), user_ids=[Snowflake(i) for i in range(SERVER_ACCESS_BATCH + 1)]
    )
    with pytest.raises(ApiError) as refused:
        await request(
            nats_client,
            Subjects(namespace).rpc("guilds", SERVER_ACCESS_MANY),
            too_many,
            ServerAccessMany,
        )
    assert refused.value.status_code == 400


async def test_only_changes_to_access_move_the_epoch(
    client: Client,
    make_user: MakeUser,
    cache: AccessCache,
    channel_questions: Questions,
    redis_client: Redis,
    namespace: str,
) -> None:
    """As each event declares (``changes_access``): invites, joins and unbans leave every
    cached answer in place; a new role (channel answers list the roles) does not."""
    crew = await make_crew(client, make_user)
    newcomer = await make_user("newcomer")
    channel = int((await text_channel(client, crew.server, crew.owner))["id"])
    for _ in range(2):  # the first teaches the cache the channel's server
        await cache.channel(crew.member.id, channel)
    asked = await channel_questions.count()
    epoch = await _epoch(redis_client, namespace, crew)

    invite = await client.post(
        f"/api/v1/channels/{channel}/invites", json={}, headers=crew.owner.headers
    )
    assert invite.status_code == 201
    await join(client, invite.json()["code"], newcomer)
    assert await _epoch(redis_client, namespace, crew) == epoch
    await cache.channel(crew.member.id, channel)
    assert await channel_questions.count() == asked  # still the cached answer

    banned = await client.put(crew.url(f"/bans/{newcomer.id}"), headers=crew.owner.headers)
    assert banned.status_code == 204
    epoch += 1  # a ban changes the banned member's access (they leave with it)
    assert await _epoch(redis_client, namespace, crew) == epoch
    await cache.channel(crew.member.id, channel)
    asked += 1
    unbanned = await client.delete(crew.url(f"/bans/{newcomer.id}"), headers=crew.owner.headers)
    assert unbanned.status_code == 204
    assert await _epoch(redis_client, namespace, crew) == epoch
    await cache.channel(crew.member.id, channel)
    assert await channel_questions.count() == asked

    role = await client.post(crew.url("/roles"), json={"name": "new"}, headers=crew.owner.headers)
    assert role.status_code == 201
    assert await _epoch(redis_client, namespace, crew) == epoch + 1
    answer = await cache.channel(crew.member.id, channel)
    assert int(role.json()["id"]) in answer.role_ids
    assert await channel_questions.count() == asked + 1
