"""Helpers for tests of the media service: its schema, the service in-process for other
suites (``media``, with ``media_bucket`` to look at what it stored), and files made in memory
(images with EXIF/GPS, animated, decompression bombs)."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from PIL import Image

from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.s3 import S3Server
from harmoniq_media.app import create_app
from harmoniq_media.settings import MediaSettings

__all__ = [
    "MEDIA_SCHEMA",
    "MediaBucket",
    "animated_gif",
    "jpeg_with_gps",
    "media",
    "media_bucket",
    "object_keys",
    "png",
    "png_bomb",
    "upload",
]

MEDIA_SCHEMA = ServiceSchema("media", "media", Path(__file__).resolve().parents[2] / "migrations")


def _bucket_name(namespace: str) -> str:
    return f"media-{namespace}"


@pytest_asyncio.fixture(loop_scope="session")
async def media(
    service_app: ServiceApp, harmoniq_s3: S3Server, namespace: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The media service in-process on the test's S3 server, for other services' suites."""
    yield await service_app(
        create_app,
        MediaSettings,
        MEDIA_SCHEMA,
        s3_url=harmoniq_s3.url,
        s3_access_key=harmoniq_s3.access_key,
        s3_secret_key=harmoniq_s3.secret_key,
        s3_region=harmoniq_s3.region,
        s3_bucket=_bucket_name(namespace),
    )


class MediaBucket:
    """What the ``media`` fixture's service stored: the keys under each file's prefix."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name

    def keys_of(self, media_id: str) -> list[str]:
        return [k for k in object_keys(self.client, self.name) if k.split("/")[1] == media_id]


@pytest.fixture
def media_bucket(harmoniq_s3: S3Server, namespace: str) -> MediaBucket:
    client = boto3.client(
        "s3",
        endpoint_url=harmoniq_s3.url,
        aws_access_key_id=harmoniq_s3.access_key,
        aws_secret_access_key=harmoniq_s3.secret_key,
        region_name=harmoniq_s3.region,
    )
    return MediaBucket(client, _bucket_name(namespace))


async def upload(client: Any, headers: dict[str, str], body: bytes, **form: Any) -> dict[str, Any]:
    """Upload ``body`` (``filename``, ``content_type``, ``purpose`` in ``form``); the answer."""
    response = await client.post(
        "/api/v1/media/upload",
        data={"purpose": form.get("purpose", "attachment")},
        files={
            "file": (
                form.get("filename", "cat.png"),
                body,
                form.get("content_type", "image/png"),
            )
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def object_keys(bucket: Any, name: str) -> list[str]:
    """Every key in bucket ``name`` (``bucket``: a boto3 S3 client)."""
    listed = bucket.list_objects_v2(Bucket=name)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def png(width: int = 64, height: int = 48, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps(width: int = 320, height: int = 200) -> bytes:
    image = Image.new("RGB", (width, height), "blue")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("P", (40, 30), i * 40) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid 1-bit PNG of width x height zeros: ~100 KB on disk, 900 megapixels decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
