"""Fixtures: auth, guilds, messages and bots in-process against real Postgres, Redis and NATS.

Users register through the real auth service; bots asks the real guilds about access and the
real messages to post, over NATS, as in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from harmoniq_common.db import create_pool

from auth_testing import auth_client, make_user
from bots_testing import bots
from guilds_testing import Client, guilds
from messages_testing import messages, messages_settings_overrides


@pytest_asyncio.fixture(loop_scope="session")
async def client(guilds: Client, messages: Client, bots: Client) -> Client:
    """The bots service (this suite's own name for it), with guilds and messages running."""
    return bots


@pytest_asyncio.fixture(loop_scope="session")
async def bots_database(bots: Client) -> AsyncIterator[asyncpg.Pool]:
    """The bots service's own database, for what HTTP cannot show (stored token hashes)."""
    settings = bots.app.state.platform.settings
    pool = await create_pool(
        settings.database_url,
        schema=settings.database_schema or "bots",
        application_name="bots-tests",
        min_size=1,
        max_size=2,
    )
    yield pool
    await pool.close()
