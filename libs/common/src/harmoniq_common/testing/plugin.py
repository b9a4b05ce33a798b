"""pytest plugin (entry point ``harmoniq``): real Postgres, Redis and NATS for every test.

Session fixtures provision the servers once (given by ``HARMONIQ_*_URL`` or started embedded,
see :mod:`.infra`). Each test gets its own namespace (Redis key prefix, NATS subjects and
stream names) and its own database cloned from a migrated template, so tests are isolated from
each other and from anything a developer runs on the same servers. Nothing is skipped when a
server is missing: provisioning fails loudly.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from redis.asyncio import Redis

from ..auth import RevocationMarks
from ..bus import Subjects
from ..migrate import ServiceSchema
from .apps import ServiceApp, service_settings
from .databases import TemplateDatabases
from .infra import Infra, InfraStack
from .keys import KeyFiles, write_keypair
from .s3 import S3Server, S3Stack

__all__ = [
    "harmoniq_databases",
    "harmoniq_infra",
    "harmoniq_keys",
    "harmoniq_s3",
    "namespace",
    "nats_client",
    "own_namespace",
    "redis_client",
    "service_app",
    "service_database",
]

S = TypeVar("S")


@pytest.fixture(scope="session")
def harmoniq_infra() -> Iterator[Infra]:
    with InfraStack() as infra:
        yield infra


@pytest.fixture(scope="session")
def harmoniq_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """The object store: ``HARMONIQ_S3_URL`` when given, else moto started from its wheel."""
    with S3Stack(tmp_path_factory.mktemp("s3")) as server:
        yield server


@pytest.fixture(scope="session")
def harmoniq_keys(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    return write_keypair(tmp_path_factory.mktemp("keys"))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def harmoniq_databases(harmoniq_infra: Infra) -> AsyncIterator[TemplateDatabases]:
    databases = TemplateDatabases(harmoniq_infra.postgres_url)
    yield databases
    await databases.drop_all()


@contextlib.asynccontextmanager
async def own_namespace(infra: Infra) -> AsyncIterator[str]:
    """A namespace of one's own: its Redis keys, NATS subjects and streams.

    Ready as a running fleet's would be: auth's revocation state is in place (auth restores
    it at start; tests of the other services run without auth, and every token check needs
    it). Removed afterwards, and only it: a shared Redis or NATS may hold a developer's data.
    """
    ns = f"t{secrets.token_hex(5)}"
    redis = Redis.from_url(infra.redis_url)
    try:
        marks = RevocationMarks(redis, ns)
        assert await marks.finish_restore(await marks.begin_restore())
        yield ns
        async for key in redis.scan_iter(match=f"{ns}:*", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()
    nc = await nats.connect(infra.nats_url)
    try:
        with contextlib.suppress(NotFoundError):
            await nc.jetstream().delete_stream(Subjects(ns).events_stream)
    finally:
        await nc.close()


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(harmoniq_infra: Infra) -> AsyncIterator[str]:
    """A namespace of this test's own (see :func:`own_namespace`)."""
    async with own_namespace(harmoniq_infra) as ns:
        yield ns


@pytest_asyncio.fixture(loop_scope="session")
async def service_database(
    harmoniq_databases: TemplateDatabases,
) -> AsyncIterator[Callable[[ServiceSchema], Awaitable[str]]]:
    """``await service_database(ServiceSchema(...))`` -> the service role's DSN to a fresh DB."""
    created: list[str] = []

    async def make(service: ServiceSchema) -> str:
        name, dsn = await harmoniq_databases.clone(service)
        created.append(name)
        return dsn

    yield make
    for name in created:
        await harmoniq_databases.drop(name)


@pytest_asyncio.fixture(loop_scope="session")
async def service_app(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Callable[[ServiceSchema], Awaitable[str]],
) -> AsyncIterator[ServiceApp]:
    """Start services in-process (see :class:`.apps.ServiceApp`); stopped in reverse order."""
    async with contextlib.AsyncExitStack() as running:

        async def start(
            create_app: Callable[[S], Litestar],
            settings_type: Callable[..., S],
            schema: ServiceSchema,
            **overrides: Any,
        ) -> AsyncTestClient[Any]:
            settings = settings_type(
                database_url=await service_database(schema),
                **{**service_settings(harmoniq_infra, harmoniq_keys, namespace), **overrides},
            )
            client: AsyncTestClient[Any] = await running.enter_async_context(
                AsyncTestClient(create_app(settings))
            )
            return client

        yield start


@pytest_asyncio.fixture(loop_scope="session")
async def redis_client(harmoniq_infra: Infra) -> AsyncIterator[Redis]:
    client = Redis.from_url(harmoniq_infra.redis_url)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(loop_scope="session")
async def nats_client(harmoniq_infra: Infra) -> AsyncIterator[NatsClient]:
    client = await nats.connect(harmoniq_infra.nats_url)
    yield client
    await client.close()


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "services.toml").exists():
            return parent
    raise RuntimeError("cannot find the repository root (deploy/services.toml)")
