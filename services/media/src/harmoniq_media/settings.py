"""Settings of the media service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from harmoniq_common.settings import CommonSettings

__all__ = ["MediaSettings"]

MIB = 1024 * 1024


class MediaSettings(CommonSettings, frozen=True, kw_only=True):
    # The store's keys are secrets: HARMONIQ_ENV=production refuses to start without them.
    production_secrets: ClassVar[frozenset[str]] = CommonSettings.production_secrets | {
        "s3_access_key",
        "s3_secret_key",
    }
    service: str = "media"
    # The S3-compatible store (MinIO, S3…). s3_public_url is the endpoint *clients* reach, used
    # only to sign the redirect URLs; empty means s3_url.
    s3_url: str = "http://127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_bucket: str = "harmoniq-media"
    s3_region: str = "us-east-1"
    s3_public_url: str = ""
    max_upload_bytes: int = 25 * MIB
    # The whole request, multipart envelope included, as nginx counts it (client_max_body_size).
    request_max_body_size: int = 25 * MIB
    # S3 multipart part size (S3's minimum is 5 MiB): at most one part per upload in memory.
    s3_part_bytes: int = 5 * MIB
    presign_expiry_seconds: int = 3600
    # Direct uploads: how long the presigned POST handed to the client may be used.
    direct_upload_expiry_seconds: int = 300
    user_quota_bytes: int = 1024 * MIB
    upload_rate_limit: int = 30
    upload_rate_period_seconds: float = 60.0
    # Images: refused above this many pixels, before any decoding (decompression bombs).
    max_image_pixels: int = 50_000_000
    thumbnail_sizes: list[int] = msgspec.field(default_factory=lambda: [256, 1024])
    thumbnail_concurrency: int = 2
    orphan_age_seconds: float = 24 * 3600.0
    cleanup_interval_seconds: float = 600.0
    # A message's files linked this long are settled: confirmed if messages stored the message,
    # given back to their owner if not (asked by the cleanup, every cleanup_interval_seconds).
    link_confirm_seconds: float = 3600.0
