"""Fixtures: the auth app in-process against real Postgres, Redis and NATS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from litestar.testing import AsyncTestClient

from harmoniq_auth.app import create_app
from harmoniq_auth.settings import AuthSettings
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.infra import Infra
from harmoniq_common.testing.keys import KeyFiles

from auth_testing import AUTH_SCHEMA


@pytest_asyncio.fixture(loop_scope="session")
async def auth_settings(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Callable[[ServiceSchema], Awaitable[str]],
) -> AuthSettings:
    return AuthSettings(
        database_url=await service_database(AUTH_SCHEMA),
        redis_url=harmoniq_infra.redis_url,
        nats_url=harmoniq_infra.nats_url,
        namespace=namespace,
        jwt_public_key_file=str(harmoniq_keys.public_key_file),
        jwt_private_key_file=str(harmoniq_keys.private_key_file),
        # Cheaper argon2 keeps the suite fast; the code path is the same.
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        trusted_proxies=["testclient"],
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(loop_scope="session")
async def client(auth_settings: AuthSettings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(create_app(auth_settings)) as test_client:
        yield test_client
