"""Limits of POST /api/v1/media/upload: a chunked body cut at the limit, the per-user quota,
the upload rate limit, and a store that is down; none leaves an object or a row behind."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from harmoniq_common.testing.infra import free_port
from harmoniq_common.testing.users import TestUser
from harmoniq_media.settings import MediaSettings

from media_testing import object_keys

UPLOAD = "/api/v1/media/upload"
LIMIT = 100_000

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]


async def post_chunked(client: Any, pieces: list[bytes], headers: dict[str, str]) -> Any:
    """POST without Content-Length, as a chunked body arrives (Litestar's test transport hands
    the app the body in one piece: what is *read* is only visible over a real socket)."""
    request = client.build_request("POST", UPLOAD, content=b"".join(pieces), headers=headers)
    del request.headers["Content-Length"]
    return await client.send(request)


def multipart(content: bytes, boundary: str = "b0undary") -> tuple[list[bytes], dict[str, str]]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nattachment\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    pieces = [head, *(content[i : i + 8192] for i in range(0, len(content), 8192)), tail]
    return pieces, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def media_settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    overrides = {"max_upload_bytes": LIMIT, "request_max_body_size": LIMIT}
    return overrides | getattr(request, "param", {})


async def test_a_chunked_body_is_cut_at_the_limit(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    user = await make_user()
    pieces, headers = multipart(b"x" * (5 * LIMIT))
    response = await post_chunked(client, pieces, {**headers, **user.headers})
    assert response.status_code == 413, response.text
    assert response.json()["code"] in {"file_too_large", "payload_too_large"}
    assert await db.fetchval("SELECT count(*) FROM media") == 0
    assert object_keys(bucket, media_settings.s3_bucket) == []


@pytest.mark.parametrize("media_settings_overrides", [{"user_quota_bytes": 10_000}], indirect=True)
async def test_the_quota_is_checked_before_and_after_the_bytes(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    bucket: Any,
    media_settings: MediaSettings,
) -> None:
    user, other = await make_user(), await make_user()
    files = {"file": ("a.bin", b"a" * 6000, "application/octet-stream")}
    first = await client.post(UPLOAD, files=files, headers=user.headers)
    assert first.status_code == 201, first.text
    # Declared size: refused from the headers.
    second = await client.post(UPLOAD, files=files, headers=user.headers)
    assert second.status_code == 413
    assert second.json()["code"] == "quota_exceeded"
    # Chunked (no declared size): refused when the row would be written, and the object goes.
    pieces, headers = multipart(b"b" * 6000)
    third = await post_chunked(client, pieces, {**headers, **user.headers})
    assert third.status_code == 413
    assert third.json()["code"] == "quota_exceeded"
    assert await db.fetchval("SELECT count(*) FROM media") == 1
    assert object_keys(bucket, media_settings.s3_bucket) == [f"media/{first.json()['id']}/original"]
    # Someone else's quota is their own.
    assert (await client.post(UPLOAD, files=files, headers=other.headers)).status_code == 201


@pytest.mark.parametrize("media_settings_overrides", [{"upload_rate_limit": 2}], indirect=True)
async def test_uploads_are_rate_limited_per_user(client: Client, make_user: MakeUser) -> None:
    user, other = await make_user(), await make_user()
    files = {"file": ("a.txt", b"hello", "text/plain")}
    for _ in range(2):
        assert (await client.post(UPLOAD, files=files, headers=user.headers)).status_code == 201
    limited = await client.post(UPLOAD, files=files, headers=user.headers)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await client.post(UPLOAD, files=files, headers=other.headers)).status_code == 201


@pytest.mark.parametrize(
    "media_settings_overrides", [{"s3_url": f"http://127.0.0.1:{free_port()}"}], indirect=True
)
async def test_a_store_that_is_down_is_a_503_and_no_row(
    client: Client, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    user = await make_user()
    files = {"file": ("a.txt", b"hello", "text/plain")}
    response = await client.post(UPLOAD, files=files, headers=user.headers)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "storage_unavailable"
    assert await db.fetchval("SELECT count(*) FROM media") == 0
