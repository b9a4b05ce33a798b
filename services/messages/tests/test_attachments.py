"""Messages with files: media links the sender's uploads under the message (asked over NATS),
refusals reach the sender as 4xx and write nothing, the files show in the message (REST, the
message.create event, search), and deleting the message releases them from storage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.events import MessageCreated, decode_payload
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import MEDIA_LINK, Linked, LinkRequest
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from guilds_testing import Client, create_server, invite_and_join, text_channel
from media_testing import MediaBucket, media, media_bucket, png, upload
from messages_testing import history, send

__all__ = ["media", "media_bucket"]  # fixtures this module uses

MakeUser = Callable[..., Awaitable[TestUser]]


async def _room(guilds: Client, make_user: MakeUser) -> tuple[TestUser, TestUser, str, str]:
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel = await text_channel(guilds, server, owner)
    return owner, member, str(channel["id"]), str(server["id"])


def _post(client: Client, author: TestUser, channel_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/channels/{channel_id}/messages", json=body, headers=author.headers)


async def test_a_message_carries_its_files_in_rest_events_and_search(
    client: Client,
    guilds: Client,
    media: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    owner, member, channel_id, server_id = await _room(guilds, make_user)
    image = await upload(media, member.headers, png())
    notes = await upload(media, member.headers, b"plain words\n", filename="notes.txt",
                         content_type="text/plain")  # fmt: skip
    sent = await send(client, member, channel_id, "look", attachments=[image["id"], notes["id"]])
    shown = sent["attachments"]
    assert [a["id"] for a in shown] == [image["id"], notes["id"]]
    assert shown[0]["url"] == f"/api/v1/media/{image['id']}"
    assert (shown[0]["width"], shown[0]["height"], shown[0]["content_type"]) == (
        64,
        48,
        "image/png",
    )
    assert [t["size"] for t in shown[0]["thumbnails"]] == [256, 1024]
    assert shown[1]["filename"] == "notes.txt" and shown[1]["thumbnails"] == []
    assert (await history(client, owner, channel_id))[0]["attachments"] == shown

    [event] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server_id}.message.create", count=1
    )
    payload = decode_payload(event)
    assert isinstance(payload, MessageCreated)
    assert [str(a.id) for a in payload.message.attachments] == [image["id"], notes["id"]]

    # The other member may now see the file (its channel decides); before, only its owner.
    fetched = await media.get(shown[0]["url"], headers=owner.headers, follow_redirects=False)
    assert fetched.status_code == 302

    only_file = await upload(media, member.headers, b"%PDF-1.4 nothing\n", filename="a.pdf",
                             content_type="application/pdf")  # fmt: skip
    bare = await send(client, member, channel_id, "plain")
    files_only = await _post(client, member, channel_id, attachments=[only_file["id"]])
    assert files_only.status_code == 201, files_only.text
    assert files_only.json()["content"] == ""

    async def found(has: str) -> set[str]:
        response = await client.get(
            f"/api/v1/servers/{server_id}/messages/search",
            params={"has": has},
            headers=owner.headers,
        )
        assert response.status_code == 200, response.text
        return {m["id"] for m in response.json()["messages"]}

    assert await found("attachment") == {sent["id"], files_only.json()["id"]}
    results = await client.get(
        f"/api/v1/channels/{channel_id}/messages/search",
        params={"has": "image"},
        headers=owner.headers,
    )
    assert [m["attachments"] for m in results.json()["messages"]] == [shown]
    assert await found("image") == {sent["id"]}
    assert await found("file") == {sent["id"], files_only.json()["id"]}
    assert bare["id"] not in await found("attachment")


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("someone_elses", 400, "unknown_media"),
        ("already_linked", 409, "media_already_linked"),
        ("eleven", 400, None),
        ("avatar", 400, "wrong_media_purpose"),
        ("nothing_at_all", 400, "empty_message"),
    ],
)
async def test_files_that_cannot_be_attached_are_refused_and_nothing_is_sent(
    client: Client,
    guilds: Client,
    media: Client,
    make_user: MakeUser,
    case: str,
    status: int,
    code: str | None,
) -> None:
    owner, member, channel_id, _ = await _room(guilds, make_user)
    mine = (await upload(media, member.headers, png()))["id"]
    body: dict[str, Any] = {"content": "files", "attachments": [mine]}
    if case == "someone_elses":
        body["attachments"].append((await upload(media, owner.headers, png()))["id"])
    elif case == "already_linked":
        used = (await upload(media, member.headers, png()))["id"]
        await send(client, member, channel_id, "first", attachments=[used])
        body["attachments"].append(used)
    elif case == "eleven":
        body["attachments"] = [mine] * 11
    elif case == "avatar":
        body["attachments"].append(
            (await upload(media, member.headers, png(), purpose="avatar"))["id"]
        )
    else:
        body = {}
    before = await history(client, owner, channel_id)
    response = await _post(client, member, channel_id, **body)
    assert response.status_code == status, response.text
    if code is not None:
        assert response.json()["code"] == code
    assert await history(client, owner, channel_id) == before
    # The sender's own file was not taken: it can still be sent.
    sent = await send(client, member, channel_id, "again", attachments=[mine])
    assert [a["id"] for a in sent["attachments"]] == [mine]


async def test_a_failed_send_gives_the_files_back(
    client: Client, guilds: Client, media: Client, make_user: MakeUser
) -> None:
    _, member, channel_id, _ = await _room(guilds, make_user)
    mine = (await upload(media, member.headers, png()))["id"]
    response = await _post(
        client, member, channel_id, content="re", attachments=[mine], reply_to_id="123456789"
    )
    assert response.status_code == 400 and response.json()["code"] == "unknown_message"
    sent = await send(client, member, channel_id, "again", attachments=[mine])
    assert [a["id"] for a in sent["attachments"]] == [mine]


async def test_a_retried_send_with_its_nonce_answers_the_first_message(
    client: Client, guilds: Client, media: Client, make_user: MakeUser
) -> None:
    _, member, channel_id, _ = await _room(guilds, make_user)
    mine = (await upload(media, member.headers, png()))["id"]
    first = await send(client, member, channel_id, "once", attachments=[mine], nonce="n-1")
    again = await _post(client, member, channel_id, content="once", attachments=[mine],
                        nonce="n-1")  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == first["id"]


async def test_a_retry_racing_its_uncommitted_first_send_is_a_409_to_retry(
    client: Client,
    guilds: Client,
    media: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    """The first send has linked the files (under its message id) but not committed yet: a
    retry with the same nonce is told to retry (409 ``duplicate_nonce``, Retry-After), not
    that its own files are in use; without a nonce that is what it is told."""
    _, member, channel_id, server_id = await _room(guilds, make_user)
    mine = (await upload(media, member.headers, png()))["id"]
    in_flight = LinkRequest(
        owner_id=Snowflake(int(member.id)),
        media_ids=[Snowflake(int(mine))],
        kind="message",
        target_id=Snowflake(987654321),  # the first send's message, not yet committed
        channel_id=Snowflake(int(channel_id)),
        server_id=Snowflake(int(server_id)),
    )
    await request(nats_client, Subjects(namespace).rpc("media", MEDIA_LINK), in_flight, Linked)
    retry = await _post(client, member, channel_id, content="x", attachments=[mine], nonce="n-2")
    assert retry.status_code == 409, retry.text
    assert (retry.json()["code"], retry.headers["retry-after"]) == ("duplicate_nonce", "1")
    plain = await _post(client, member, channel_id, content="x", attachments=[mine])
    assert plain.status_code == 409 and plain.json()["code"] == "media_already_linked"
    assert await history(client, member, channel_id) == []


async def test_deleted_messages_release_their_files_from_storage(
    client: Client,
    guilds: Client,
    media: Client,
    make_user: MakeUser,
    media_bucket: MediaBucket,
) -> None:
    owner, member, channel_id, _ = await _room(guilds, make_user)
    ids = [(await upload(media, member.headers, png()))["id"] for _ in range(3)]
    alone = await send(client, member, channel_id, "one", attachments=[ids[0]])
    bulk = [await send(client, member, channel_id, "b", attachments=[i]) for i in ids[1:]]
    assert media_bucket.keys_of(ids[0])
    deleted = await client.delete(
        f"/api/v1/channels/{channel_id}/messages/{alone['id']}", headers=member.headers
    )
    assert deleted.status_code == 204
    bulk_deleted = await client.post(
        f"/api/v1/channels/{channel_id}/messages/bulk-delete",
        json={"message_ids": [m["id"] for m in bulk]},
        headers=owner.headers,
    )
    assert bulk_deleted.status_code == 204, bulk_deleted.text

    async def gone() -> bool:
        return not any(media_bucket.keys_of(i) for i in ids)

    await eventually(gone, what="the deleted messages' files removed from the bucket")
    for media_id in ids:
        response = await media.get(f"/api/v1/media/{media_id}", headers=member.headers)
        assert response.status_code == 404
