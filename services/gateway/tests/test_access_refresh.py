"""After a change to who may see what, the gateway asks guilds for its sessions' permissions
in batches: everyone's in one question after a server-wide change, only the member's own after
a change to one member, and the new permissions decide the very next delivery."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from redis.asyncio import Redis

from harmoniq_common.access import (
    SERVER_ACCESS,
    SERVER_ACCESS_MANY,
    AccessCache,
    ServerAccessManyRequest,
)
from harmoniq_common.bus import Subjects
from harmoniq_common.codec import decode
from harmoniq_common.permissions import DEFAULT_MEMBER, Permission
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op

from gateway_client import GatewayClient
from guilds_testing import (
    Client,
    create_server,
    give_role,
    invite_and_join,
    join,
    text_channel,
)
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


class Questions:
    """The access questions guilds is asked, heard by listening on their subjects alongside it."""

    def __init__(self, nats: NatsClient) -> None:
        self._nats = nats
        self.batches: list[list[int]] = []
        self.single = 0

    async def listen(self, subjects: Subjects) -> None:
        async def batch(message: Msg) -> None:
            asked = decode(message.data, ServerAccessManyRequest)
            self.batches.append(sorted(int(u) for u in asked.user_ids))

        async def single(_: Msg) -> None:
            self.single += 1

        await self._nats.subscribe(subjects.rpc("guilds", SERVER_ACCESS_MANY), cb=batch)
        await self._nats.subscribe(subjects.rpc("guilds", SERVER_ACCESS), cb=single)
        await self._nats.flush()

    async def since(self, mark: int) -> list[list[int]]:
        # A question reaches us before guilds can answer it, and the answer before the
        # dispatch the test waited for: after a round trip to the server, all are here.
        await self._nats.flush()
        return self.batches[mark:]


async def test_permissions_are_asked_in_one_batch_and_apply_at_once(
    guilds: Client,
    messages: Client,
    make_user: MakeUser,
    start_gateway: StartGateway,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    owner = await make_user("olga")
    members = [await make_user() for _ in range(5)]
    server = await create_server(guilds, owner)
    code = await invite_and_join(guilds, server, owner, members[0])
    await join(guilds, code, *members[1:])
    channel_id = (await text_channel(guilds, server, owner))["id"]
    instance = await start_gateway()
    clients: dict[int, GatewayClient] = {}
    for user in (owner, *members):
        clients[user.id] = await GatewayClient.connect(instance.url)
        await clients[user.id].identify(user.token)
    # While the consumer is being replaced, the old one delivers an event to some sessions
    # and the new one to the others: two batches. Wait until there is one consumer.
    await instance.gateway.hub.quiet()
    questions = Questions(nats_client)
    await questions.listen(Subjects(namespace))

    # Server-wide: @everyone can no longer view channels. One question for all six.
    hidden = await guilds.patch(
        f"/api/v1/servers/{server['id']}/roles/{server['id']}",
        json={"permissions": int(DEFAULT_MEMBER & ~Permission.VIEW_CHANNEL)},
        headers=owner.headers,
    )
    assert hidden.status_code == 200, hidden.text
    for client in clients.values():
        await client.dispatch("role.updated")
    assert await questions.since(0) == [sorted(clients)]
    sent = await send(messages, owner, channel_id, "only the owner sees this")
    owners = await clients[owner.id].dispatch("message.create")
    assert owners["d"]["message"]["id"] == sent["id"]
    for user in members:
        assert "message.create" not in await clients[user.id].types_until_ack()

    # One member's roles change: only that member's permissions are asked again.
    mark = len(questions.batches)
    await give_role(guilds, server, owner, members[0], "moderator")
    for client in clients.values():
        await client.dispatch("member.updated")
    assert await questions.since(mark) == [[members[0].id]]
    sent = await send(messages, owner, channel_id, "and now the moderator")
    for user in (owner, members[0]):
        got = await clients[user.id].dispatch("message.create")
        assert got["d"]["message"]["id"] == sent["id"]
    for user in members[1:]:
        assert "message.create" not in await clients[user.id].types_until_ack()
    assert questions.single == 0  # never one session at a time
    for client in clients.values():
        await client.close()


async def test_when_permissions_cannot_be_read_the_event_waits_for_the_resume(
    guilds: Client,
    make_user: MakeUser,
    start_gateway: StartGateway,
    redis_client: Redis,
    nats_client: NatsClient,
) -> None:
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    instance = await start_gateway()
    client = await GatewayClient.connect(instance.url)
    await client.identify(member.token)
    await instance.gateway.hub.quiet()
    router = instance.gateway.router
    working = router._access
    # guilds out of reach: questions go where nobody answers (no responders, at once)
    router._access = AccessCache(redis_client, nats_client, Subjects("nobody-answers"))
    renamed = await guilds.patch(
        f"/api/v1/servers/{server['id']}/roles/{server['id']}",
        json={"name": "everyone else"},
        headers=owner.headers,
    )
    assert renamed.status_code == 200, renamed.text
    code, reason = await client.closed()
    assert code == Close.UNKNOWN_ERROR, reason
    router._access = working  # guilds is back

    again = await GatewayClient.connect(instance.url)
    await again.send(
        Op.RESUME, {"token": member.token, "session_id": client.session_id, "seq": client.seq}
    )
    assert (await again.dispatch())["t"] == "resumed"
    role = (await again.dispatch("role.updated"))["d"]["role"]
    assert role["id"] == server["id"] and role["name"] == "everyone else"
    await again.close()
