"""Fixtures: the guilds app in-process against real Postgres, Redis and NATS, and users.

One app, database and namespace per test *module*, not per test: starting them is cheap, but
stopping the app waits up to a second for its user-events consumer's pending fetch
(``DurableConsumer.stop`` in libs/common), which per test doubled the suite's time. Tests stay
independent of each other by acting only on users and servers they create themselves.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import nats
import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from harmoniq_common.bus import Subjects
from harmoniq_common.db import create_pool
from harmoniq_common.testing.databases import TemplateDatabases
from harmoniq_common.testing.infra import Infra
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.plugin import own_namespace
from harmoniq_common.testing.users import TestUser, announce_user
from harmoniq_guilds.app import create_app
from harmoniq_guilds.settings import GuildsSettings

from guilds_testing import GUILDS_SCHEMA, Client


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def module_namespace(harmoniq_infra: Infra) -> AsyncIterator[str]:
    """The module's own namespace (Redis keys, NATS subjects, stream), removed afterwards."""
    async with own_namespace(harmoniq_infra) as ns:
        yield ns


@pytest.fixture
def namespace(module_namespace: str) -> str:
    """The plugin's per-test namespace, made per module here (see the module docstring)."""
    return module_namespace


@pytest.fixture(scope="module")
def guilds_settings_overrides() -> dict[str, Any]:
    """Settings a test module changes (override this fixture, module-scoped, in the module)."""
    return {}


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def guilds_settings(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    module_namespace: str,
    harmoniq_databases: TemplateDatabases,
    guilds_settings_overrides: dict[str, Any],
) -> AsyncIterator[GuildsSettings]:
    name, dsn = await harmoniq_databases.clone(GUILDS_SCHEMA)
    yield GuildsSettings(
        database_url=dsn,
        redis_url=harmoniq_infra.redis_url,
        nats_url=harmoniq_infra.nats_url,
        namespace=module_namespace,
        jwt_public_key_file=str(harmoniq_keys.public_key_file),
        log_json=False,
        log_level="WARNING",
        **guilds_settings_overrides,
    )
    await harmoniq_databases.drop(name)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def client(guilds_settings: GuildsSettings) -> AsyncIterator[Client]:
    async with AsyncTestClient(create_app(guilds_settings)) as test_client:
        yield test_client


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def db(guilds_settings: GuildsSettings) -> AsyncIterator[asyncpg.Pool]:
    """The service's own database, for what HTTP cannot show or do (the app's pool lives in
    the test client's event loop, not the test's)."""
    pool = await create_pool(
        guilds_settings.database_url,
        schema=guilds_settings.database_schema,
        application_name="guilds-tests",
        min_size=1,
        max_size=2,
    )
    yield pool
    await pool.close()


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
