"""Fixtures: the media app in-process against a real S3-protocol server (moto, or the one
``HARMONIQ_S3_URL`` names: the plugin's ``harmoniq_s3``) and real Postgres, Redis and NATS;
one bucket per test.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.db import create_pool
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import service_settings
from harmoniq_common.testing.infra import Infra
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.s3 import S3Server, S3Stack
from harmoniq_common.testing.users import TestUser, announce_user
from harmoniq_media.app import create_app
from harmoniq_media.settings import MediaSettings

from guilds_testing import guilds  # the guilds service, for channel access
from media_testing import MEDIA_SCHEMA

Client = AsyncTestClient[Any]


@pytest.fixture
def media_settings_overrides() -> dict[str, Any]:
    """Settings a test changes (override this fixture in the module)."""
    return {}


@pytest_asyncio.fixture(loop_scope="session")
async def media_settings(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Callable[[ServiceSchema], Awaitable[str]],
    harmoniq_s3: S3Server,
    media_settings_overrides: dict[str, Any],
) -> MediaSettings:
    values: dict[str, Any] = {
        **service_settings(harmoniq_infra, harmoniq_keys, namespace),
        "database_url": await service_database(MEDIA_SCHEMA),
        "s3_url": harmoniq_s3.url,
        "s3_access_key": harmoniq_s3.access_key,
        "s3_secret_key": harmoniq_s3.secret_key,
        "s3_region": harmoniq_s3.region,
        "s3_bucket": f"media-{namespace}",
    }
    return MediaSettings(**(values | media_settings_overrides))


@pytest_asyncio.fixture(loop_scope="session")
async def client(media_settings: MediaSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(media_settings)) as test_client:
        yield test_client


@pytest_asyncio.fixture(loop_scope="session")
async def db(media_settings: MediaSettings) -> AsyncIterator[asyncpg.Pool]:
    """The service's own database, for what HTTP cannot show (the app's pool lives in the
    test client's loop)."""
    pool = await create_pool(
        media_settings.database_url,
        schema=media_settings.database_schema,
        application_name="media-tests",
        min_size=1,
        max_size=2,
    )
    yield pool
    await pool.close()


@pytest.fixture
def bucket(media_settings: MediaSettings) -> Any:
    """A plain boto3 client on the test's bucket, to look at what the service stored."""
    return boto3.client(
        "s3",
        endpoint_url=media_settings.s3_url,
        aws_access_key_id=media_settings.s3_access_key,
        aws_secret_access_key=media_settings.s3_secret_key,
        region_name=media_settings.s3_region,
    )


@pytest.fixture
def make_user(
    harmoniq_keys: KeyFiles, nats_client: NatsClient, namespace: str
) -> Callable[..., Awaitable[TestUser]]:
    counter = itertools.count()

    async def make(name: str = "") -> TestUser:
        return await announce_user(
            nats_client, namespace, harmoniq_keys, name or f"user{next(counter)}"
        )

    return make
