"""Who is redirected to a file: avatars and icons for anyone signed in, an unlinked attachment
for its owner only, a linked one for whoever may read its channel (asked of guilds)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from litestar.testing import AsyncTestClient

from harmoniq_common.testing.users import TestUser

from guilds_testing import create_server, invite_and_join, text_channel
from media_testing import png

UPLOAD = "/api/v1/media/upload"

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]


async def upload(client: Any, user: Any, purpose: str) -> dict[str, Any]:
    response = await client.post(
        UPLOAD,
        data={"purpose": purpose},
        files={"file": ("p.png", png(), "image/png")},
        headers=user.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def status(client: Any, user: Any, url: str) -> int:
    response = await client.get(url, headers=user.headers, follow_redirects=False)
    return int(response.status_code)


async def test_the_redirect_is_presigned_with_the_expiry_and_serves_the_bytes(
    client: Client, make_user: MakeUser
) -> None:
    owner = await make_user()
    media = await upload(client, owner, "attachment")
    response = await client.get(media["url"], headers=owner.headers, follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["cache-control"].startswith("private")
    location = httpx.URL(response.headers["location"])
    assert location.params["X-Amz-Expires"] == "3600"
    fetched = httpx.get(str(location))
    assert fetched.status_code == 200
    assert fetched.content == png()
    thumb = await client.get(
        media["thumbnails"][0]["url"], headers=owner.headers, follow_redirects=False
    )
    assert thumb.status_code == 302
    assert httpx.get(thumb.headers["location"]).content[8:12] == b"WEBP"


async def test_avatars_and_icons_are_seen_by_anyone_signed_in(
    client: Client, make_user: MakeUser
) -> None:
    owner, stranger = await make_user(), await make_user()
    for purpose in ("avatar", "icon"):
        media = await upload(client, owner, purpose)
        assert await status(client, stranger, media["url"]) == 302
        assert await status(client, stranger, media["thumbnails"][0]["url"]) == 302
    assert (await client.get(media["url"], follow_redirects=False)).status_code == 401


async def test_an_unlinked_attachment_is_its_owners_alone(
    client: Client, make_user: MakeUser
) -> None:
    owner, stranger = await make_user(), await make_user()
    media = await upload(client, owner, "attachment")
    assert await status(client, owner, media["url"]) == 302
    assert await status(client, stranger, media["url"]) == 404
    assert await status(client, stranger, media["thumbnails"][0]["url"]) == 404
    assert await status(client, stranger, f"/api/v1/media/{media['id']}/info") == 404
    assert await status(client, owner, "/api/v1/media/123456789") == 404


async def test_a_linked_attachment_follows_its_channel(
    client: Client, make_user: MakeUser, db: asyncpg.Pool, guilds: AsyncTestClient[Any]
) -> None:
    owner, member, outsider = await make_user(), await make_user(), await make_user()
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel = await text_channel(guilds, server, owner)
    media = await upload(client, owner, "attachment")
    # What the messages service will do when a message carries the attachment.
    await db.execute(
        "UPDATE media SET linked_kind = 'message', linked_to = 1, channel_id = $2 WHERE id = $1",
        int(media["id"]),
        int(channel["id"]),
    )
    assert await status(client, member, media["url"]) == 302
    assert await status(client, outsider, media["url"]) == 404


async def test_avatars_and_icons_are_public_without_a_token_attachments_are_not(
    client: Client, make_user: MakeUser
) -> None:
    owner = await make_user()
    for purpose in ("avatar", "icon"):
        media = await upload(client, owner, purpose)
        plain = await client.get(f"/api/v1/media/public/{media['id']}", follow_redirects=False)
        assert plain.status_code == 302 and plain.headers["cache-control"].startswith("public")
        assert httpx.get(plain.headers["location"]).content == png()
        thumb = await client.get(
            f"/api/v1/media/public/{media['id']}/thumbnails/256", follow_redirects=False
        )
        assert thumb.status_code == 302
    attachment = await upload(client, owner, "attachment")
    for url in (
        f"/api/v1/media/public/{attachment['id']}",
        f"/api/v1/media/public/{attachment['id']}/thumbnails/256",
        "/api/v1/media/public/123456789",
    ):
        assert (await client.get(url, follow_redirects=False)).status_code == 404
