"""Fixtures for libs/common's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest_asyncio

from harmoniq_common.db import create_pool
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.databases import TemplateDatabases

EMPTY_SERVICE = ServiceSchema("probe", "probe", Path(__file__).parent / "empty_migrations")


@pytest_asyncio.fixture(loop_scope="session")
async def pool(harmoniq_databases: TemplateDatabases) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database holding only the shared migrations (outbox, processed)."""
    _, dsn = await harmoniq_databases.clone(EMPTY_SERVICE)
    pool = await create_pool(dsn, schema=EMPTY_SERVICE.schema, application_name="common-tests")
    yield pool
    await pool.close()
