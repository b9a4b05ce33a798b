"""Helpers for tests of the media service: its schema, and files made in memory (images with
EXIF/GPS, animated, decompression bombs)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

from PIL import Image

from harmoniq_common.migrate import ServiceSchema

__all__ = ["MEDIA_SCHEMA", "animated_gif", "jpeg_with_gps", "object_keys", "png", "png_bomb"]

MEDIA_SCHEMA = ServiceSchema("media", "media", Path(__file__).resolve().parents[2] / "migrations")


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
