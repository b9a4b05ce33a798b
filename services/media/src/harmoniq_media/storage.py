"""The object store, spoken to over S3 with aioboto3: one client per app, built in the lifespan.

Every S3 failure that means "the store cannot be reached" becomes a 503 (``StorageDown``), so
callers can answer clearly and write no row that points at a missing object.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

import aioboto3
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from harmoniq_common.errors import ServiceUnavailable

from .settings import MediaSettings

__all__ = ["ObjectWriter", "Storage", "StorageDown", "open_storage"]

log = structlog.get_logger(__name__)
BUCKET_RETRY_SECONDS = 5.0


class StorageDown(ServiceUnavailable):
    code = "storage_unavailable"
    default_message = "file storage is unavailable, try again later"


@contextlib.contextmanager
def _translated() -> Any:
    try:
        yield
    except ClientError:
        raise
    except (BotoCoreError, OSError) as error:
        raise StorageDown() from error


def _config() -> Config:
    # Path-style: MinIO and moto are reached by host:port, not by bucket subdomains.
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )


@dataclass
class Storage:
    client: Any  # aiobotocore S3 client
    presigner: Any  # same credentials, the public endpoint: signs URLs, never connects
    bucket: str
    ready: bool = False  # the bucket is known to exist; until then uploads answer 503

    def require(self) -> None:
        if not self.ready:
            raise StorageDown()

    async def ensure_bucket(self) -> None:
        """Create the bucket if missing; many instances starting at once all succeed."""
        with _translated():
            try:
                await self.client.head_bucket(Bucket=self.bucket)
                self.ready = True
                return
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket"}:
                    raise
            try:
                await self.client.create_bucket(Bucket=self.bucket)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
        self.ready = True

    def writer(self, key: str, content_type: str, part_bytes: int) -> ObjectWriter:
        return ObjectWriter(self, key, content_type, part_bytes)

    async def put_file(self, key: str, body: IO[bytes], content_type: str) -> None:
        with _translated():
            await self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type
            )

    async def delete(self, key: str) -> None:
        with _translated():
            await self.client.delete_object(Bucket=self.bucket, Key=key)

    async def copy(self, source: str, target: str) -> None:
        """A server-side copy (no bytes cross the service); at most 5 GB, far over any limit."""
        with _translated():
            await self.client.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
            )

    async def exists(self, key: str) -> bool:
        with _translated():
            try:
                await self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                    return False
                raise
        return True

    async def size_of(self, key: str) -> int | None:
        """The object's size in bytes (a HEAD), or None when there is no such object."""
        with _translated():
            try:
                head = await self.client.head_object(Bucket=self.bucket, Key=key)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                    return None
                raise
        size: int = head["ContentLength"]
        return size

    async def read_head(self, key: str, length: int) -> bytes:
        """The object's first ``length`` bytes (fewer if it is shorter): a ranged GET."""
        with _translated():
            got = await self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}"
            )
            body = got["Body"]
            try:
                data: bytes = await body.read()
            finally:
                body.close()
        return data[:length]

    async def download(self, key: str, target: IO[bytes], chunk_bytes: int) -> None:
        """The whole object into ``target``, ``chunk_bytes`` at a time in memory."""
        with _translated():
            got = await self.client.get_object(Bucket=self.bucket, Key=key)
            body = got["Body"]
            try:
                async for chunk in body.iter_chunks(chunk_bytes):
                    target.write(chunk)
            finally:
                body.close()

    async def presigned_post(
        self, key: str, *, size: int, content_type: str, expires: int
    ) -> tuple[str, dict[str, str]]:
        """(url, form fields) of a browser POST that may write exactly ``size`` bytes of
        ``content_type`` at ``key`` for ``expires`` seconds. The store enforces the policy
        (S3, MinIO); the caller still checks what landed."""
        signed: dict[str, Any] = await self.presigner.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[
                {"Content-Type": content_type},
                ["content-length-range", size, size],
            ],
            ExpiresIn=expires,
        )
        return str(signed["url"]), {k: str(v) for k, v in signed["fields"].items()}

    async def listing(self, prefix: str) -> AsyncIterator[tuple[str, datetime]]:
        """Every object under ``prefix``: its key and when it was last written."""
        paginator = self.client.get_paginator("list_objects_v2")
        with _translated():
            async for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"]

    async def presigned_get(
        self, key: str, *, filename: str, content_type: str, disposition: str, expires: int
    ) -> str:
        """A URL that reads the object until ``expires`` seconds from now; the response's type
        and disposition are pinned in the signature, whatever the object says."""
        quoted = urllib.parse.quote(filename, safe="")
        url: str = await self.presigner.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": f"{disposition}; filename*=UTF-8''{quoted}",
            },
            ExpiresIn=expires,
        )
        return url


class ObjectWriter:
    """Writes one object from chunks: a single PUT when it is small, an S3 multipart upload
    (one ``part_bytes`` part in memory at a time) when it is not. ``abort`` leaves nothing."""

    def __init__(self, storage: Storage, key: str, content_type: str, part_bytes: int) -> None:
        self._storage = storage
        self.key = key
        self._content_type = content_type
        self._part_bytes = part_bytes
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.size = 0

    async def write(self, chunk: bytes) -> None:
        self._buffer += chunk
        self.size += len(chunk)
        while len(self._buffer) >= self._part_bytes:
            await self._flush_part(self._part_bytes)

    async def _flush_part(self, length: int | None = None) -> None:
        s3, bucket = self._storage.client, self._storage.bucket
        with _translated():
            if self._upload_id is None:
                started = await s3.create_multipart_upload(
                    Bucket=bucket, Key=self.key, ContentType=self._content_type
                )
                self._upload_id = started["UploadId"]
            number = len(self._parts) + 1
            done = await s3.upload_part(
                Bucket=bucket,
                Key=self.key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=bytes(self._buffer[:length]),
            )
        self._parts.append({"PartNumber": number, "ETag": done["ETag"]})
        del self._buffer[:length]

    async def finish(self) -> None:
        s3, bucket = self._storage.client, self._storage.bucket
        if self._upload_id is None:
            with _translated():
                await s3.put_object(
                    Bucket=bucket,
                    Key=self.key,
                    Body=bytes(self._buffer),
                    ContentType=self._content_type,
                )
            self._buffer.clear()
            return
        if self._buffer:
            await self._flush_part()
        with _translated():
            await s3.complete_multipart_upload(
                Bucket=bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )

    async def abort(self) -> None:
        """Drop what was sent; best effort (a leftover object is an orphan cleanup sweeps)."""
        self._buffer.clear()
        with contextlib.suppress(Exception):
            if self._upload_id is not None:
                await self._storage.client.abort_multipart_upload(
                    Bucket=self._storage.bucket, Key=self.key, UploadId=self._upload_id
                )
            else:
                await self._storage.delete(self.key)


@contextlib.asynccontextmanager
async def open_storage(settings: MediaSettings) -> AsyncIterator[Storage]:
    """The app's S3 client (and presigner) for its lifetime; the bucket exists after entry."""
    session = aioboto3.Session(
        aws_access_key_id=settings.s3_access_key or None,
        aws_secret_access_key=settings.s3_secret_key or None,
        region_name=settings.s3_region,
    )
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(
            session.client("s3", endpoint_url=settings.s3_url, config=_config())
        )
        presigner = await stack.enter_async_context(
            session.client(
                "s3", endpoint_url=settings.s3_public_url or settings.s3_url, config=_config()
            )
        )
        storage = Storage(client, presigner, settings.s3_bucket)
        # A store that is down at start-up must not keep the service down: it starts, answers
        # 503 to uploads and downloads, and keeps trying until the bucket is there.
        waiting: asyncio.Task[None] | None = None
        try:
            await storage.ensure_bucket()
        except (StorageDown, ClientError) as error:
            log.warning("storage.unreachable_at_start", url=settings.s3_url, error=str(error))
            waiting = asyncio.create_task(_bucket_when_reachable(storage))
        try:
            yield storage
        finally:
            if waiting is not None:
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting


async def _bucket_when_reachable(storage: Storage) -> None:
    while True:
        await asyncio.sleep(BUCKET_RETRY_SECONDS)
        try:
            await storage.ensure_bucket()
            return
        except (StorageDown, ClientError) as error:
            log.warning("storage.bucket_unavailable", bucket=storage.bucket, error=str(error))
