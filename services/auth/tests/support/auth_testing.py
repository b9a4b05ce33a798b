"""Helpers for tests that drive the auth API, and fixtures for services that need it running.

Test support, not shipped: importable as ``auth_testing`` in every test (the pytest
``pythonpath`` setting). Suites built on auth import ``auth_client`` and ``make_user`` into
their ``conftest.py``: users then register through the real auth service, so their tokens,
their ``user.created`` events and auth's answers to "who is this user" are the real ones.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar.testing import AsyncTestClient

from harmoniq_auth.app import create_app
from harmoniq_auth.settings import AuthSettings
from harmoniq_common.ids import Snowflake
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.users import TestUser

__all__ = [
    "AUTH_SCHEMA",
    "PASSWORD",
    "auth_client",
    "bearer",
    "from_ip",
    "make_user",
    "register",
]

AUTH_SCHEMA = ServiceSchema("auth", "auth", Path(__file__).resolve().parents[2] / "migrations")

PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def from_ip(ip: str) -> dict[str, str]:
    """What nginx adds: the tests' client is a trusted proxy, so this is the caller's IP."""
    return {"X-Real-IP": ip}


async def register(
    client: AsyncTestClient[Any],
    username: str = "alice",
    email: str | None = None,
    password: str = PASSWORD,
    ip: str = "10.0.0.1",
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/register",
        json={
            "username": username,
            "email": email or f"{username}@example.com",
            "password": password,
        },
        headers=from_ip(ip),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest_asyncio.fixture(loop_scope="session")
async def auth_client(
    service_app: ServiceApp, harmoniq_keys: KeyFiles
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The auth service in-process, with cheap password hashing and no login limit."""
    yield await service_app(
        create_app,
        AuthSettings,
        AUTH_SCHEMA,
        jwt_private_key_file=str(harmoniq_keys.private_key_file),
        argon2_time_cost=1,
        argon2_memory_kib=8192,
        argon2_parallelism=1,
        auth_rate_limit=10_000,
        trusted_proxies=["testclient"],
    )


@pytest.fixture
def make_user(auth_client: AsyncTestClient[Any]) -> Callable[..., Awaitable[TestUser]]:
    """Register a user through auth (each from its own address)."""
    counter = itertools.count(1)

    async def make(name: str = "") -> TestUser:
        n = next(counter)
        name = name or f"user{n}"
        body = await register(auth_client, name, ip=f"10.1.{n // 250}.{n % 250 + 1}")
        return TestUser(Snowflake(body["user"]["id"]), name, body["access_token"])

    return make
