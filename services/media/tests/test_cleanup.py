"""The orphan cleanup with a moved clock: unlinked uploads past the age go (objects, then the
row), linked ones stay, objects without a row are swept, fresh ones are left alone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.testing.users import TestUser
from harmoniq_media.domain.cleanup import Cleanup
from harmoniq_media.settings import MediaSettings
from harmoniq_media.storage import open_storage

from media_testing import object_keys, png

UPLOAD = "/api/v1/media/upload"

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]


async def upload(client: Any, user: Any) -> str:
    response = await client.post(
        UPLOAD, files={"file": ("p.png", png(), "image/png")}, headers=user.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_orphans_go_after_a_day_and_linked_files_stay(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    user = await make_user()
    orphan, linked = await upload(client, user), await upload(client, user)
    assert orphan != linked
    await db.execute(
        "UPDATE media SET linked_kind = 'user', linked_to = $2 WHERE id = $1", int(linked), user.id
    )
    bucket.put_object(Bucket=media_settings.s3_bucket, Key="media/42/original", Body=b"crash")
    before = object_keys(bucket, media_settings.s3_bucket)
    async with open_storage(media_settings) as storage:
        today = Cleanup(db, media_settings, storage, nats_client, Subjects(namespace))
        assert await today.run_once() == (0, 0)  # nothing is a day old yet
        assert object_keys(bucket, media_settings.s3_bucket) == before
        tomorrow = datetime.now(UTC) + timedelta(hours=25)
        moved = Cleanup(
            db, media_settings, storage, nats_client, Subjects(namespace), now=lambda: tomorrow
        )
        assert await moved.run_once() == (1, 1)
        assert await moved.run_once() == (0, 0)  # and again: nothing left to do
    assert [r["id"] for r in await db.fetch("SELECT id FROM media")] == [int(linked)]
    assert all(
        k.startswith(f"media/{linked}/") for k in object_keys(bucket, media_settings.s3_bucket)
    )
    assert len(object_keys(bucket, media_settings.s3_bucket)) == 3  # original + 2 thumbnails
