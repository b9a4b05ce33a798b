"""What messages does when auth or guilds report a change: anonymise, remove, stay idempotent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis

from harmoniq_common.bus import Subjects, outgoing_headers
from harmoniq_common.events import (
    BanAdded,
    ChannelCreated,
    ChannelView,
    EventPayload,
    MessagesBulkDeleted,
    RoleCreated,
    RoleView,
    decode_payload,
    encode_envelope,
)
from harmoniq_common.ids import Snowflake
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from auth_testing import PASSWORD
from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_a_deleted_account_is_anonymised_on_its_messages(
    client: Client, guilds: Client, auth_client: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    leaver = await make_user("leaver")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, leaver)
    channel = (await text_channel(guilds, server, owner))["id"]
    sent = await send(client, leaver, channel, "bye all")
    assert sent["author"]["username"] == "leaver"
    gone = await auth_client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=leaver.headers
    )
    assert gone.status_code == 204

    async def anonymised() -> bool:
        got = await client.get(
            f"/api/v1/channels/{channel}/messages/{sent['id']}", headers=owner.headers
        )
        return bool(
            got.json()["author"]
            == {"id": str(leaver.id), "username": "Deleted User", "avatar_url": None}
        )

    await eventually(anonymised, what="the author anonymised")
    # The content stays: the conversation still makes sense to the others.
    got = await client.get(
        f"/api/v1/channels/{channel}/messages/{sent['id']}", headers=owner.headers
    )
    assert got.json()["content"] == "bye all"


async def test_a_deleted_channel_takes_its_messages(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    general = (await text_channel(guilds, server, owner))["id"]
    doomed = (
        await guilds.post(
            f"/api/v1/servers/{server['id']}/channels",
            json={"name": "doomed"},
            headers=owner.headers,
        )
    ).json()["id"]
    kept = await send(client, owner, general, "keep me")
    for i in range(3):
        await send(client, owner, doomed, f"lose me {i}")
    assert _count_in(client, channel_id=int(doomed)) == 3
    assert (
        await guilds.delete(f"/api/v1/channels/{doomed}", headers=owner.headers)
    ).status_code == 204

    # Refused at once (the access answer moved with guilds' epoch) ...
    assert (
        await client.get(f"/api/v1/channels/{doomed}/messages", headers=owner.headers)
    ).status_code == 404

    # ... and removed once the event arrives (counted in the table: a search would not find
    # them anyway, the channel being gone).
    async def removed() -> bool:
        return _count_in(client, channel_id=int(doomed)) == 0

    await eventually(removed, what="the channel's messages removed")
    assert [
        m["id"]
        for m in (
            await client.get(f"/api/v1/channels/{general}/messages", headers=owner.headers)
        ).json()
    ] == [kept["id"]]


async def test_a_deleted_server_takes_its_messages(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    other = await create_server(guilds, owner, "Other")
    channel = (await text_channel(guilds, server, owner))["id"]
    other_channel = (await text_channel(guilds, other, owner))["id"]
    await send(client, owner, channel, "in the doomed server")
    survivor = await send(client, owner, other_channel, "in the other server")
    assert (
        await guilds.delete(f"/api/v1/servers/{server['id']}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/channels/{channel}/messages", headers=owner.headers)
    ).status_code == 404

    async def removed() -> bool:
        return _count_in(client, server_id=int(server["id"])) == 0

    await eventually(removed, what="the server's messages removed")
    assert [
        m["id"]
        for m in (
            await client.get(f"/api/v1/channels/{other_channel}/messages", headers=owner.headers)
        ).json()
    ] == [survivor["id"]]


def _count_in(client: Client, *, server_id: int = 0, channel_id: int = 0) -> int:
    """Messages stored in that server or channel (what the service holds, not what it shows)."""
    platform = client.app.state.platform

    async def count() -> int:
        async with platform.pool.acquire() as conn:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM messages WHERE server_id = $1 OR channel_id = $2",
                    server_id,
                    channel_id,
                )
            )

    # The app's pool lives in the test client's event loop thread.
    return int(client.blocking_portal.call(count))


async def test_a_redelivered_ban_removes_and_announces_once(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner = await make_user("olga")
    spammer = await make_user("spammer")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, spammer)
    channel = (await text_channel(guilds, server, owner))["id"]
    spam = [await send(client, spammer, channel, f"buy now {i}") for i in range(2)]

    # The same event twice, as JetStream would redeliver it after a lost ack.
    subjects = Subjects(namespace)
    event = BanAdded(
        server_id=Snowflake(server["id"]),
        user_id=spammer.id,
        reason="spam",
        delete_messages_seconds=3600,
    )
    envelope = encode_envelope(Snowflake(424242), event, datetime.now(UTC))
    js = nats_client.jetstream()
    for attempt in range(2):
        await js.publish(
            subjects.server_event(int(server["id"]), BanAdded.event_type),
            envelope,
            headers=outgoing_headers(msg_id=f"redelivery-{attempt}"),
        )
    [deleted] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.message.bulk_delete", count=1
    )
    payload = decode_payload(deleted)
    assert isinstance(payload, MessagesBulkDeleted)
    assert sorted(str(i) for i in payload.message_ids) == sorted(m["id"] for m in spam)


async def test_every_access_change_moves_the_epoch_again(
    client: Client,
    make_user: MakeUser,
    guilds: Client,
    nats_client: NatsClient,
    redis_client: Redis,
    namespace: str,
) -> None:
    """Events as they reach messages when guilds died between its commit and its own epoch
    move (published here straight to the stream): each one that changes access, as its payload
    declares, moves the epoch. channel.created and role.created used to be missed."""
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    server_id = Snowflake(server["id"])
    channel = (await text_channel(guilds, server, owner))["id"]
    await send(client, owner, channel, "hello")
    subjects = Subjects(namespace)
    epoch_key = f"{namespace}:access:epoch:{server_id}"
    now = datetime.now(UTC)
    changes: list[EventPayload] = [
        ChannelCreated(
            channel=ChannelView(
                id=Snowflake(991), server_id=server_id, kind="text", name="new", position=9
            )
        ),
        RoleCreated(
            role=RoleView(
                id=Snowflake(992), server_id=server_id, name="new", permissions=0, position=1
            )
        ),
    ]
    js = nats_client.jetstream()
    for number, event in enumerate(changes):
        before = int(await redis_client.get(epoch_key) or 0)
        await js.publish(
            subjects.server_event(server_id, event.event_type),
            encode_envelope(Snowflake(777_000 + number), event, now),
            headers=outgoing_headers(msg_id=f"access-change-{number}"),
        )
        assert event.changes_access == "server"

        async def moved(before: int = before) -> bool:
            return int(await redis_client.get(epoch_key) or 0) > before

        await eventually(moved, what=f"the epoch moved by {event.event_type}")
        print("EPOCH", event.event_type, before, await redis_client.get(epoch_key))
