"""POST /api/v1/media/upload against a real S3-protocol server: what is stored, what is
refused, and that a refusal leaves neither an object nor a row."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from harmoniq_common.testing.users import TestUser
from harmoniq_media.settings import MediaSettings

from media_testing import animated_gif, jpeg_with_gps, object_keys, png, png_bomb

UPLOAD = "/api/v1/media/upload"

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]


async def upload(
    client: Any, user: Any, content: bytes, *, name: str = "a.png",
    declared: str = "application/octet-stream", purpose: str = "attachment",
) -> httpx.Response:  # fmt: skip
    response: httpx.Response = await client.post(
        UPLOAD,
        data={"purpose": purpose},
        files={"file": (name, content, declared)},
        headers=user.headers,
    )
    return response


async def nothing_stored(db: asyncpg.Pool, bucket: Any, settings: MediaSettings) -> None:
    assert await db.fetchval("SELECT count(*) FROM media") == 0
    assert object_keys(bucket, settings.s3_bucket) == []


async def test_a_png_is_stored_measured_and_thumbnailed(
    client: Client, make_user: MakeUser, bucket: Any, media_settings: MediaSettings
) -> None:
    user = await make_user()
    response = await upload(client, user, png(640, 480), declared="image/png", purpose="avatar")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["width"], body["height"], body["content_type"]) == (640, 480, "image/png")
    assert body["url"] == f"/api/v1/media/{body['id']}"
    assert [(t["size"], t["width"], t["height"]) for t in body["thumbnails"]] == [
        (256, 256, 192), (1024, 640, 480)
    ]  # fmt: skip
    keys = object_keys(bucket, media_settings.s3_bucket)
    assert keys == sorted(
        [
            f"media/{body['id']}/original",
            *(f"media/{body['id']}/thumb-{s}.webp" for s in (256, 1024)),
        ]
    )
    thumb = bucket.get_object(Bucket=media_settings.s3_bucket, Key=keys[1])["Body"].read()
    assert Image.open(io.BytesIO(thumb)).format == "WEBP"


async def test_gps_and_exif_are_stripped_from_what_is_served(
    client: Client, make_user: MakeUser, bucket: Any, media_settings: MediaSettings
) -> None:
    user = await make_user()
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the fixture has GPS
    response = await upload(client, user, original, name="holiday.jpg", declared="image/jpeg")
    assert response.status_code == 201, response.text
    stored = bucket.get_object(
        Bucket=media_settings.s3_bucket, Key=f"media/{response.json()['id']}/original"
    )["Body"].read()
    served = Image.open(io.BytesIO(stored))
    assert served.size == (320, 200)
    assert not served.getexif()
    assert b"SpyCam" not in stored


async def test_an_animated_gif_gets_a_still_thumbnail(
    client: Client, make_user: MakeUser, bucket: Any, media_settings: MediaSettings
) -> None:
    user = await make_user()
    response = await upload(client, user, animated_gif(), name="cat.gif", purpose="icon")
    assert response.status_code == 201, response.text
    key = f"media/{response.json()['id']}/thumb-256.webp"
    thumb = Image.open(
        io.BytesIO(bucket.get_object(Bucket=media_settings.s3_bucket, Key=key)["Body"].read())
    )
    assert getattr(thumb, "n_frames", 1) == 1


async def test_a_large_file_goes_up_in_s3_multipart_parts(
    client: Client, make_user: MakeUser, bucket: Any, media_settings: MediaSettings
) -> None:
    user = await make_user()
    content = bytes(range(256)) * (12 * 1024 * 1024 // 256)  # 12 MiB: three 5 MiB parts
    response = await upload(client, user, content, name="blob.bin")
    assert response.status_code == 201, response.text
    assert response.json()["size"] == len(content)
    head = bucket.head_object(
        Bucket=media_settings.s3_bucket, Key=f"media/{response.json()['id']}/original"
    )
    assert head["ContentLength"] == len(content)
    assert head["ETag"].strip('"').endswith("-3")  # the ETag of a 3-part multipart upload


async def test_over_the_limit_by_content_length_is_refused_before_the_body_is_read(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    user = await make_user()
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(26):
            pulled += 1024 * 1024
            yield b"\0" * (1024 * 1024)

    response = await client.post(
        UPLOAD,
        content=body(),
        headers={
            **user.headers,
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": str(media_settings.max_upload_bytes + 1),
        },
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "file_too_large"
    assert pulled <= 1024 * 1024  # at most the chunk the client had in hand: none was read
    await nothing_stored(db, bucket, media_settings)


@pytest.mark.parametrize(
    ("content", "name", "declared", "purpose", "status", "code"),
    [
        (b"", "empty.txt", "text/plain", "attachment", 400, "invalid_request"),
        (png()[:60], "cut.png", "image/png", "attachment", 422, "invalid_image"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "junk.png", "image/png", "avatar", 422, "invalid_image"),
        (png_bomb(), "bomb.png", "image/png", "attachment", 422, "image_too_large"),
        (b"<html><script>alert(1)</script></html>", "cat.png", "image/png", "attachment", 415, "type_mismatch"),
        (b"<html><script>alert(1)</script></html>", "cat.png", "text/html", "avatar", 415, "unsupported_media_type"),
        (png(), "a.png", "image/jpeg", "attachment", 415, "type_mismatch"),
        (b"just some words", "notes.txt", "image/png", "attachment", 415, "type_mismatch"),
        (png(), "a.png", "image/png", "banner", 400, "invalid_request"),
    ],
    ids=["empty", "truncated", "corrupt", "bomb", "html-as-png", "html-avatar", "lying-type",
         "text-as-png", "bad-purpose"],
)  # fmt: skip
async def test_bad_files_are_refused_and_leave_nothing(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
    content: Any,
    name: Any,
    declared: Any,
    purpose: Any,
    status: Any,
    code: Any,
) -> None:
    user = await make_user()
    response = await upload(client, user, content, name=name, declared=declared, purpose=purpose)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    await nothing_stored(db, bucket, media_settings)


async def test_html_is_kept_only_as_a_plain_text_attachment(
    client: Client, make_user: MakeUser
) -> None:
    user = await make_user()
    page = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>"
    response = await upload(client, user, page, name="cat.png", declared="text/html")
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "text/plain; charset=utf-8"
    redirect = await client.get(
        response.json()["url"], headers=user.headers, follow_redirects=False
    )
    assert redirect.status_code == 302
    location = httpx.URL(redirect.headers["location"])
    assert location.params["response-content-disposition"].startswith("attachment;")
    assert location.params["response-content-type"] == "text/plain; charset=utf-8"
    fetched = httpx.get(str(location))
    assert fetched.content == page
    assert fetched.headers["content-disposition"].startswith("attachment")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\evil.exe", "evil.exe"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("a\x1bb\x7fc.txt", "abc.txt"),  # httpx %-escapes the other controls itself
        ("...hidden", "hidden"),
        ("x" * 300 + ".txt", "x" * 124 + ".txt"),
    ],
)
async def test_filenames_are_cleaned(
    client: Client, make_user: MakeUser, raw: Any, clean: Any
) -> None:
    user = await make_user()
    response = await upload(client, user, b"hello", name=raw, declared="text/plain")
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == clean


def _jpeg(width: int, height: int, orientation: int | None = None) -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    out = io.BytesIO()
    if orientation is None:
        image.save(out, "JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def test_a_large_jpeg_keeps_its_size_while_its_thumbnails_decode_scaled(
    client: Client, make_user: MakeUser
) -> None:
    """Thumbnails of a JPEG without metadata come from a decode at 1/2..1/8 scale: the file's
    own size is still what is recorded, and each thumbnail has the exact fitted size."""
    user = await make_user()
    response = await upload(client, user, _jpeg(4000, 3000), name="p.jpg", declared="image/jpeg")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (4000, 3000)
    assert [(t["size"], t["width"], t["height"]) for t in body["thumbnails"]] == [
        (256, 256, 192),
        (1024, 1024, 768),
    ]


async def test_an_exif_rotated_photo_is_served_and_thumbnailed_upright(
    client: Client, make_user: MakeUser, bucket: Any, media_settings: MediaSettings
) -> None:
    user = await make_user()
    photo = _jpeg(1600, 1200, orientation=6)  # stored landscape, shown rotated 90° clockwise
    response = await upload(client, user, photo, name="p.jpg", declared="image/jpeg")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (1200, 1600)  # as it is served
    assert [(t["size"], t["width"], t["height"]) for t in body["thumbnails"]] == [
        (256, 192, 256),
        (1024, 768, 1024),
    ]
    for key in ("original", "thumb-256.webp", "thumb-1024.webp"):
        stored = bucket.get_object(Bucket=media_settings.s3_bucket, Key=f"media/{body['id']}/{key}")
        image = Image.open(io.BytesIO(stored["Body"].read()))
        assert image.height > image.width, key  # upright, and rotated once only
        assert image.getexif().get(0x0112, 1) == 1, key
