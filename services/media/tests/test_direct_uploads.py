"""Direct uploads against a real S3-protocol server (moto): the client asks for a presigned
POST, sends the bytes to the store itself, and ``complete`` checks what landed.

moto does not enforce POST policies (``content-length-range``, ``Content-Type``), so these
tests land what a real store would refuse and show that ``complete`` refuses it too, leaving
nothing behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis

from harmoniq_common.bus import Subjects
from harmoniq_common.testing.users import TestUser
from harmoniq_media.domain.cleanup import Cleanup
from harmoniq_media.settings import MediaSettings
from harmoniq_media.storage import open_storage

from media_testing import object_keys, png

UPLOADS = "/api/v1/media/uploads"

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]


async def ask(
    client: Client, user: TestUser, *, size: int, content_type: str = "image/png",
    purpose: str = "attachment", filename: str = "cat.png",
) -> httpx.Response:  # fmt: skip
    response: httpx.Response = await client.post(
        UPLOADS,
        json={
            "filename": filename,
            "size": size,
            "content_type": content_type,
            "purpose": purpose,
        },
        headers=user.headers,
    )
    return response


async def land(answer: dict[str, Any], content: bytes, content_type: str = "image/png") -> None:
    """What a browser does with the presigned POST: every field, then the file."""
    upload = answer["upload"]
    async with httpx.AsyncClient() as store:
        response = await store.post(
            upload["url"], data=upload["fields"], files={"file": ("f", content, content_type)}
        )
    assert response.status_code in {200, 201, 204}, response.text


async def complete(client: Client, user: TestUser, media_id: str) -> httpx.Response:
    response: httpx.Response = await client.post(
        f"{UPLOADS}/{media_id}/complete", headers=user.headers
    )
    return response


async def nothing_left(db: asyncpg.Pool, bucket: Any, settings: MediaSettings) -> None:
    assert await db.fetchval("SELECT count(*) FROM media") == 0
    assert object_keys(bucket, settings.s3_bucket) == []


async def test_request_post_complete_then_the_redirect_serves_the_bytes(
    client: Client, make_user: MakeUser, db: asyncpg.Pool, media_settings: MediaSettings
) -> None:
    user = await make_user()
    image = png(640, 480)
    asked = await ask(client, user, size=len(image), purpose="avatar")
    assert asked.status_code == 201, asked.text
    answer = asked.json()
    fields = answer["upload"]["fields"]
    assert fields["key"] == f"media/{answer['id']}/incoming"  # not what is served
    assert fields["Content-Type"] == "image/png"
    expires_at = datetime.fromisoformat(answer["expires_at"])
    assert (
        timedelta(0)
        < expires_at - datetime.now(UTC)
        <= timedelta(seconds=media_settings.direct_upload_expiry_seconds)
    )
    # Pending: counted against the quota, served to nobody.
    assert await db.fetchval("SELECT state FROM media WHERE id = $1", int(answer["id"])) == (
        "pending"
    )
    early = await client.get(f"/api/v1/media/{answer['id']}", headers=user.headers)
    assert early.status_code == 404

    await land(answer, image)
    done = await complete(client, user, answer["id"])
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["id"], body["purpose"], body["size"]) == (answer["id"], "avatar", len(image))
    assert (body["width"], body["height"], body["content_type"]) == (640, 480, "image/png")
    assert [t["size"] for t in body["thumbnails"]] == [256, 1024]
    again = await complete(client, user, answer["id"])  # idempotent
    assert (again.status_code, again.json()) == (200, body)

    redirect = await client.get(body["url"], headers=user.headers, follow_redirects=False)
    assert redirect.status_code == 302
    async with httpx.AsyncClient() as store:
        assert (await store.get(redirect.headers["location"])).content == image
        thumb = await client.get(
            body["thumbnails"][0]["url"], headers=user.headers, follow_redirects=False
        )
        assert (await store.get(thumb.headers["location"])).content[8:12] == b"WEBP"


async def test_a_file_of_another_size_is_refused_and_deleted(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    user = await make_user()
    text = b"hello, declared as ten bytes but longer"
    answer = (await ask(client, user, size=10, content_type="text/plain")).json()
    await land(answer, text, "text/plain")  # moto ignores content-length-range
    assert object_keys(bucket, media_settings.s3_bucket) == [f"media/{answer['id']}/incoming"]
    refused = await complete(client, user, answer["id"])
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "size_mismatch"
    await nothing_left(db, bucket, media_settings)
    assert (await complete(client, user, answer["id"])).status_code == 404


async def test_html_declared_as_a_png_is_refused_and_deleted(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    user = await make_user()
    page = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    answer = (await ask(client, user, size=len(page), content_type="image/png")).json()
    await land(answer, page)
    refused = await complete(client, user, answer["id"])
    assert refused.status_code == 415, refused.text
    assert refused.json()["code"] == "type_mismatch"
    await nothing_left(db, bucket, media_settings)


async def test_complete_before_the_file_landed_is_a_409(
    client: Client, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    user = await make_user()
    answer = (await ask(client, user, size=100)).json()
    early = await complete(client, user, answer["id"])
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "upload_missing"
    # Still pending: the client may send the file and complete it.
    assert await db.fetchval("SELECT state FROM media WHERE id = $1", int(answer["id"])) == (
        "pending"
    )


async def test_someone_elses_upload_is_a_404(
    client: Client, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    owner, other = await make_user(), await make_user()
    image = png()
    answer = (await ask(client, owner, size=len(image))).json()
    await land(answer, image)
    assert (await complete(client, other, answer["id"])).status_code == 404
    assert (await complete(client, other, "123456789")).status_code == 404
    assert await db.fetchval("SELECT state FROM media WHERE id = $1", int(answer["id"])) == (
        "pending"
    )
    assert (await complete(client, owner, answer["id"])).status_code == 200


async def test_too_large_or_wrong_kind_is_refused_before_anything_is_signed(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    user = await make_user()
    too_large = await ask(client, user, size=media_settings.max_upload_bytes + 1)
    assert too_large.status_code == 413, too_large.text
    assert too_large.json()["code"] == "file_too_large"
    not_an_image = await ask(client, user, size=10, content_type="text/html", purpose="icon")
    assert not_an_image.status_code == 415, not_an_image.text
    assert (await ask(client, user, size=0)).status_code == 400
    assert (await ask(client, user, size=10, purpose="banner")).status_code == 400
    await nothing_left(db, bucket, media_settings)


async def test_a_pending_upload_never_completed_is_swept_by_orphan_cleanup(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    user = await make_user()
    image = png()
    await land((await ask(client, user, size=len(image))).json(), image)
    async with open_storage(media_settings) as storage:
        tomorrow = datetime.now(UTC) + timedelta(hours=25)
        # The row (and its absent original), then the posted object that no row names.
        assert await Cleanup(
            db, media_settings, storage, nats_client, Subjects(namespace), now=lambda: tomorrow
        ).run_once() == (
            1,
            1,
        )
    await nothing_left(db, bucket, media_settings)


async def test_bytes_posted_again_after_complete_change_nothing_that_is_served(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    """The presigned POST outlives ``complete``: a client that posts a page over its checked
    image must not get that page served as the image."""
    user = await make_user()
    image = png(32, 32)
    answer = (await ask(client, user, size=len(image))).json()
    await land(answer, image)
    body = (await complete(client, user, answer["id"])).json()
    assert object_keys(bucket, media_settings.s3_bucket) == sorted(
        f"media/{answer['id']}/{name}" for name in ("original", "thumb-1024.webp", "thumb-256.webp")
    )  # the posted object went once its copy was checked

    page = b"<html><script>alert(1)</script>".ljust(len(image), b" ")
    await land(answer, page)
    redirect = await client.get(body["url"], headers=user.headers, follow_redirects=False)
    async with httpx.AsyncClient() as store:
        assert (await store.get(redirect.headers["location"])).content == image
    again = await complete(client, user, answer["id"])
    assert (again.status_code, again.json()) == (200, body)

    async with open_storage(media_settings) as storage:
        tomorrow = datetime.now(UTC) + timedelta(hours=25)
        cleanup = Cleanup(
            db, media_settings, storage, nats_client, Subjects(namespace), now=lambda: tomorrow
        )
        assert await cleanup.sweep_objects() == 1  # the page posted late, never served
    assert f"media/{answer['id']}/incoming" not in object_keys(bucket, media_settings.s3_bucket)
    assert f"media/{answer['id']}/original" in object_keys(bucket, media_settings.s3_bucket)


async def test_completions_of_one_upload_run_one_at_a_time(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    user = await make_user()
    image = png(1600, 1200)
    answer = (await ask(client, user, size=len(image))).json()
    await land(answer, image)
    answers = await asyncio.gather(*(complete(client, user, answer["id"]) for _ in range(4)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses[-1] in {200, 409} and 200 in statuses, [r.text for r in answers]
    for busy in (r for r in answers if r.status_code == 409):
        assert busy.json()["code"] == "upload_completing"
        assert busy.headers["retry-after"] == "1"
    done = [r.json() for r in answers if r.status_code == 200]
    assert all(body == done[0] for body in done)
    assert (
        await db.fetchval("SELECT count(*) FROM thumbnails WHERE media_id = $1", int(answer["id"]))
        == 2
    )
    assert (await complete(client, user, answer["id"])).json() == done[0]


async def test_a_completion_in_progress_elsewhere_is_a_409_with_retry_after(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    redis_client: Redis,
    media_settings: MediaSettings,
) -> None:
    user = await make_user()
    image = png()
    answer = (await ask(client, user, size=len(image))).json()
    await land(answer, image)
    lock = redis_client.lock(f"{media_settings.namespace}:media:completing:{answer['id']}")
    assert await lock.acquire(blocking=False)  # another instance is checking this upload
    busy = await complete(client, user, answer["id"])
    assert busy.status_code == 409, busy.text
    assert (busy.json()["code"], busy.headers["retry-after"]) == ("upload_completing", "1")
    assert await db.fetchval("SELECT state FROM media WHERE id = $1", int(answer["id"])) == (
        "pending"
    )
    await lock.release()
    assert (await complete(client, user, answer["id"])).status_code == 200
