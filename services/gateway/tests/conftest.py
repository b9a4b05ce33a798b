"""Fixtures: auth, guilds and messages in-process, and gateway instances on real sockets."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from litestar.testing import AsyncTestClient

from harmoniq_auth.app import create_app as create_auth_app
from harmoniq_auth.settings import AuthSettings
from harmoniq_auth.testing import register
from harmoniq_common.ids import Snowflake
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.infra import Infra, free_port
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.app import create_app
from harmoniq_gateway.gateway import Gateway
from harmoniq_gateway.settings import GatewaySettings
from harmoniq_guilds.app import create_app as create_guilds_app
from harmoniq_guilds.settings import GuildsSettings
from harmoniq_guilds.testing import GUILDS_SCHEMA, Client
from harmoniq_messages.app import create_app as create_messages_app
from harmoniq_messages.settings import MessagesSettings

SERVICES = Path(__file__).resolve().parents[2]
AUTH = ServiceSchema("auth", "auth", SERVICES / "auth" / "migrations")
MESSAGES = ServiceSchema("messages", "messages", SERVICES / "messages" / "migrations", ("pg_trgm",))
GATEWAY = ServiceSchema("gateway", "gateway", SERVICES / "gateway" / "migrations")
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
        database_url=await service_database(AUTH),
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


@pytest_asyncio.fixture(loop_scope="session")
async def messages(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Databases,
    guilds: Client,
) -> AsyncIterator[Client]:
    settings = MessagesSettings(
        database_url=await service_database(MESSAGES),
        send_rate_limit=10_000,
        **_common(harmoniq_infra, harmoniq_keys, namespace),
    )
    async with AsyncTestClient(create_messages_app(settings)) as client:
        yield client


@dataclass
class GatewayInstance:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def gateway(self) -> Gateway:
        app: Any = self.server.config.loaded_app
        while not hasattr(app, "state"):  # uvicorn's middleware wraps the application
            app = app.app
        gateway: Gateway = app.state.gateway
        return gateway

    async def stop(self) -> None:
        """What SIGTERM does: RECONNECT to every client, then uvicorn's own shutdown."""
        if self.task.done():
            return
        await self.gateway.drain()
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 15)
        except TimeoutError:
            self.server.force_exit = True
            await asyncio.wait_for(self.task, 15)  # fails the test loudly if it hangs


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {}


@pytest_asyncio.fixture(loop_scope="session")
async def start_gateway(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Databases,
    gateway_overrides: dict[str, Any],
    auth_client: Client,
    guilds: Client,
) -> AsyncIterator[Callable[[], Awaitable[GatewayInstance]]]:
    """Start a gateway instance on a real port (as many as a test wants)."""
    database = await service_database(GATEWAY)
    running: list[GatewayInstance] = []
    numbers = itertools.count(1)

    async def start() -> GatewayInstance:
        port = free_port()
        settings = GatewaySettings(
            database_url=database,
            instance_id=f"gw-{next(numbers)}",
            gc_gen0_threshold=0,
            **{**_common(harmoniq_infra, harmoniq_keys, namespace), **gateway_overrides},
        )
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)  # uvicorn offers no event for "listening"
        instance = GatewayInstance(f"ws://127.0.0.1:{port}/gateway", server, task)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        await instance.stop()


@pytest.fixture
def make_user(auth_client: Client) -> Callable[..., Awaitable[TestUser]]:
    counter = itertools.count(1)

    async def make(name: str = "") -> TestUser:
        n = next(counter)
        name = name or f"user{n}"
        body = await register(auth_client, name, ip=f"10.2.{n // 250}.{n % 250 + 1}")
        return TestUser(Snowflake(body["user"]["id"]), name, body["access_token"])

    return make
