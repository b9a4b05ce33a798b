"""Fixtures: the guilds app in-process against real Postgres, Redis and NATS, and users."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.infra import Infra
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.users import TestUser, announce_user
from harmoniq_guilds.app import create_app
from harmoniq_guilds.settings import GuildsSettings
from harmoniq_guilds.testing import GUILDS_SCHEMA, Client


@pytest_asyncio.fixture(loop_scope="session")
async def guilds_settings(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Callable[[ServiceSchema], Awaitable[str]],
) -> GuildsSettings:
    return GuildsSettings(
        database_url=await service_database(GUILDS_SCHEMA),
        redis_url=harmoniq_infra.redis_url,
        nats_url=harmoniq_infra.nats_url,
        namespace=namespace,
        jwt_public_key_file=str(harmoniq_keys.public_key_file),
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(loop_scope="session")
async def client(guilds_settings: GuildsSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(guilds_settings)) as test_client:
        yield test_client


@pytest.fixture
def make_user(
    harmoniq_keys: KeyFiles, nats_client: NatsClient, namespace: str
) -> Callable[[str], Awaitable[TestUser]]:
    """A user as auth would announce them (a user.created event) with a valid token."""
    counter = itertools.count()

    async def make(name: str = "") -> TestUser:
        return await announce_user(
            nats_client, namespace, harmoniq_keys, name or f"user{next(counter)}"
        )

    return make
