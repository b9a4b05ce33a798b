"""Fixtures: auth, guilds and messages in-process against real Postgres, Redis and NATS.

Users register through the real auth service, so their tokens, their ``user.created`` events
and auth's answers to "who is this user" are the real ones.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from harmoniq_auth.app import create_app as create_auth_app
from harmoniq_auth.settings import AuthSettings
from harmoniq_auth.testing import register
from harmoniq_common.ids import Snowflake
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.infra import Infra
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.users import TestUser
from harmoniq_guilds.app import create_app as create_guilds_app
from harmoniq_guilds.settings import GuildsSettings
from harmoniq_guilds.testing import GUILDS_SCHEMA, Client
from harmoniq_messages.app import create_app
from harmoniq_messages.settings import MessagesSettings

SERVICES = Path(__file__).resolve().parents[2]
AUTH_SCHEMA = ServiceSchema("auth", "auth", SERVICES / "auth" / "migrations")
MESSAGES_SCHEMA = ServiceSchema(
    "messages", "messages", SERVICES / "messages" / "migrations", ("pg_trgm",)
)
Databases = Callable[[ServiceSchema], Awaitable[str]]


def _common(infra: Infra, keys: KeyFiles, namespace: str) -> dict[str, Any]:
    return {
        "redis_url": infra.redis_url,
        "nats_url": infra.nats_url,
        "namespace": namespace,
        "jwt_public_key_file": str(keys.public_key_file),
        "log_json": False,
        "log_level": "WARNING",
    }


@pytest_asyncio.fixture(loop_scope="session")
async def auth_client(
    harmoniq_infra: Infra, harmoniq_keys: KeyFiles, namespace: str, service_database: Databases
) -> AsyncIterator[Client]:
    settings = AuthSettings(
        database_url=await service_database(AUTH_SCHEMA),
        jwt_private_key_file=str(harmoniq_keys.private_key_file),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        auth_rate_limit=10_000,
        trusted_proxies=["testclient"],
        **_common(harmoniq_infra, harmoniq_keys, namespace),
    )
    async with AsyncTestClient(create_auth_app(settings)) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def guilds(
    harmoniq_infra: Infra, harmoniq_keys: KeyFiles, namespace: str, service_database: Databases
) -> AsyncIterator[Client]:
    settings = GuildsSettings(
        database_url=await service_database(GUILDS_SCHEMA),
        **_common(harmoniq_infra, harmoniq_keys, namespace),
    )
    async with AsyncTestClient(create_guilds_app(settings)) as client:
        yield client


@pytest.fixture
def messages_settings_overrides() -> dict[str, Any]:
    """Tests send in bursts; the send limit has its own test, which overrides this."""
    return {"send_rate_limit": 10_000}


@pytest_asyncio.fixture(loop_scope="session")
async def client(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Databases,
    messages_settings_overrides: dict[str, Any],
    guilds: Client,
) -> AsyncIterator[Client]:
    """The messages service (guilds is up first: messages asks it about access)."""
    settings = MessagesSettings(
        database_url=await service_database(MESSAGES_SCHEMA),
        **_common(harmoniq_infra, harmoniq_keys, namespace),
        **messages_settings_overrides,
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def make_user(auth_client: Client) -> Callable[..., Awaitable[TestUser]]:
    counter = itertools.count(1)

    async def make(name: str = "") -> TestUser:
        n = next(counter)
        name = name or f"user{n}"
        body = await register(auth_client, name, ip=f"10.1.{n // 250}.{n % 250 + 1}")
        return TestUser(Snowflake(body["user"]["id"]), name, body["access_token"])

    return make
