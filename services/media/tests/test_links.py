"""Linking uploads to what uses them (the NATS request other services make), and releasing
them when their message, channel or server is deleted (media consumes those events)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
import pytest
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects, outgoing_headers
from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError
from harmoniq_common.events import (
    ChannelDeleted,
    EventPayload,
    MessageDeleted,
    MessagesBulkDeleted,
    UserDeleted,
    encode_envelope,
)
from harmoniq_common.ids import Snowflake, SnowflakeGenerator
from harmoniq_common.media import MEDIA_LINK, Linked, LinkRequest
from harmoniq_common.testing.infra import free_port
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually
from harmoniq_media.domain.cleanup import Cleanup
from harmoniq_media.domain.links import Links
from harmoniq_media.settings import MediaSettings
from harmoniq_media.storage import open_storage

from media_testing import object_keys, png

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]
_ids = SnowflakeGenerator(1003)


async def upload(client: Client, user: TestUser, purpose: str = "attachment") -> str:
    response = await client.post(
        "/api/v1/media/upload",
        data={"purpose": purpose},
        files={"file": ("cat.png", png(), "image/png")},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    media_id: str = response.json()["id"]
    return media_id


async def link(
    nats_client: NatsClient, namespace: str, owner: TestUser, ids: list[str], **target: Any
) -> Linked:
    question = LinkRequest(
        owner_id=owner.id,
        media_ids=[Snowflake(int(i)) for i in ids],
        kind=target.get("kind", "message"),
        target_id=Snowflake(target.get("target_id", 1)),
        channel_id=Snowflake(target.get("channel_id", 2)),
        server_id=Snowflake(target.get("server_id", 3)),
    )
    return await request(
        nats_client, Subjects(namespace).rpc("media", MEDIA_LINK), question, Linked
    )


async def publish(nats_client: NatsClient, namespace: str, server_id: int, event: Any) -> None:
    payload: EventPayload = event
    event_id = _ids.next_id()
    await nats_client.jetstream().publish(
        Subjects(namespace).server_event(server_id, payload.event_type),
        encode_envelope(event_id, payload, datetime.now(UTC)),
        headers=outgoing_headers(msg_id=str(event_id)),
    )


async def test_linking_answers_the_metadata_and_a_retry_the_same(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str, db: asyncpg.Pool
) -> None:
    owner = await make_user()
    first, second = await upload(client, owner), await upload(client, owner)
    linked = await link(nats_client, namespace, owner, [second, first], target_id=11)
    assert [str(a.id) for a in linked.attachments] == [second, first]
    shown = linked.attachments[0]
    assert (shown.filename, shown.content_type, shown.width, shown.height) == (
        "cat.png", "image/png", 64, 48,
    )  # fmt: skip
    assert shown.url == f"/api/v1/media/{second}"
    assert [t.size for t in shown.thumbnails] == [256, 1024]
    again = await link(nats_client, namespace, owner, [second, first], target_id=11)
    assert again == linked
    row = await db.fetchrow("SELECT * FROM media WHERE id = $1", int(first))
    assert (row["linked_kind"], row["linked_to"], row["channel_id"], row["server_id"]) == (
        "message", 11, 2, 3,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "code", "status"),
    [
        ("someone_elses", "unknown_media", 400),
        ("missing", "unknown_media", 400),
        ("already_linked", "media_already_linked", 409),
        ("avatar_in_a_message", "wrong_media_purpose", 400),
        ("twice", "duplicate_media", 400),
    ],
)
async def test_links_that_are_refused_change_nothing(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    db: asyncpg.Pool,
    case: str,
    code: str,
    status: int,
) -> None:
    owner, other = await make_user(), await make_user()
    mine = await upload(client, owner)
    if case == "someone_elses":
        ids = [mine, await upload(client, other)]
    elif case == "missing":
        ids = [mine, "123456789"]
    elif case == "already_linked":
        used = await upload(client, owner)
        await link(nats_client, namespace, owner, [used], target_id=21)
        ids = [mine, used]
    elif case == "avatar_in_a_message":
        ids = [mine, await upload(client, owner, "avatar")]
    else:
        ids = [mine, mine]
    with pytest.raises(ApiError) as refused:
        await link(nats_client, namespace, owner, ids, target_id=22)
    assert (refused.value.code, refused.value.status_code) == (code, status)
    assert await db.fetchval("SELECT linked_to FROM media WHERE id = $1", int(mine)) is None


async def test_more_than_ten_files_are_refused(
    make_user: MakeUser, nats_client: NatsClient, namespace: str, client: Client
) -> None:
    owner = await make_user()
    with pytest.raises(ApiError) as refused:
        await link(nats_client, namespace, owner, [str(n) for n in range(1, 12)])
    assert refused.value.code == "invalid_request"


async def test_a_new_avatar_releases_the_previous_one(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    owner = await make_user()
    old, new = await upload(client, owner, "avatar"), await upload(client, owner, "avatar")
    await link(nats_client, namespace, owner, [old], kind="user", target_id=owner.id)
    await link(nats_client, namespace, owner, [new], kind="user", target_id=owner.id)
    keys = object_keys(bucket, media_settings.s3_bucket)
    assert not [k for k in keys if k.startswith(f"media/{old}/")]
    assert [k for k in keys if k.startswith(f"media/{new}/")]


async def test_a_deleted_account_releases_its_avatar(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    owner = await make_user()
    avatar = await upload(client, owner, "avatar")
    await link(nats_client, namespace, owner, [avatar], kind="user", target_id=owner.id)
    event_id = _ids.next_id()
    gone_at = datetime.now(UTC)
    await nats_client.jetstream().publish(
        Subjects(namespace).user_event(owner.id, UserDeleted.event_type),
        encode_envelope(event_id, UserDeleted(user_id=owner.id, deleted_at=gone_at), gone_at),
        headers=outgoing_headers(msg_id=str(event_id)),
    )

    async def released() -> bool:
        keys = object_keys(bucket, media_settings.s3_bucket)
        return not any(k.startswith(f"media/{avatar}/") for k in keys)

    await eventually(released, what="the deleted account's avatar removed")


async def test_deleted_messages_and_channels_release_their_files(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    bucket: Any,
    media_settings: MediaSettings,
    db: asyncpg.Pool,
) -> None:
    owner = await make_user()
    alone, bulk_a, bulk_b, in_channel, kept = [await upload(client, owner) for _ in range(5)]
    await link(nats_client, namespace, owner, [alone], target_id=31, channel_id=5)
    await link(nats_client, namespace, owner, [bulk_a], target_id=32, channel_id=5)
    await link(nats_client, namespace, owner, [bulk_b], target_id=33, channel_id=5)
    await link(nats_client, namespace, owner, [in_channel], target_id=34, channel_id=6)
    await link(nats_client, namespace, owner, [kept], target_id=35, channel_id=7)
    server = Snowflake(3)
    await publish(nats_client, namespace, server, MessageDeleted(
        server_id=server, channel_id=Snowflake(5), message_id=Snowflake(31)))  # fmt: skip
    await publish(nats_client, namespace, server, MessagesBulkDeleted(
        server_id=server, channel_id=Snowflake(5), message_ids=[Snowflake(32), Snowflake(33)]))  # fmt: skip
    await publish(nats_client, namespace, server, ChannelDeleted(
        server_id=server, channel_id=Snowflake(6)))  # fmt: skip
    gone = {alone, bulk_a, bulk_b, in_channel}

    # purge() removes the objects first and the rows in a transaction that commits after:
    # wait for both.
    async def released() -> bool:
        rows = {str(r["id"]) for r in await db.fetch("SELECT id FROM media")}
        keys = object_keys(bucket, media_settings.s3_bucket)
        return rows == {kept} and not any(k.split("/")[1] in gone for k in keys)

    await eventually(released, what="the deleted messages' rows and objects removed")
    assert any(
        k.startswith(f"media/{kept}/") for k in object_keys(bucket, media_settings.s3_bucket)
    )


@pytest.mark.parametrize("dead_store", [f"http://127.0.0.1:{free_port()}"])
async def test_a_release_while_the_store_is_down_is_finished_by_cleanup(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
    dead_store: str,
) -> None:
    owner = await make_user()
    media_id = await upload(client, owner)
    await link(nats_client, namespace, owner, [media_id], target_id=51)
    down = msgspec.structs.replace(media_settings, s3_url=dead_store)
    async with open_storage(down) as storage:
        assert await Links(db, storage).release(kind="message", target_id=51) == 1
    # Released: nobody is served it, nobody may link it, but its objects are still there.
    fetched = await client.get(f"/api/v1/media/{media_id}", headers=owner.headers)
    assert fetched.status_code == 404
    with pytest.raises(ApiError) as refused:
        await link(nats_client, namespace, owner, [media_id], target_id=52)
    assert refused.value.code == "unknown_media"
    assert any(
        k.startswith(f"media/{media_id}/") for k in object_keys(bucket, media_settings.s3_bucket)
    )
    async with open_storage(media_settings) as storage:
        cleanup = Cleanup(db, media_settings, storage, nats_client, Subjects(namespace))
        assert await cleanup.run_once() == (1, 0)
    assert not any(
        k.startswith(f"media/{media_id}/") for k in object_keys(bucket, media_settings.s3_bucket)
    )
    assert await db.fetchval("SELECT count(*) FROM media WHERE id = $1", int(media_id)) == 0
