"""deploy/backup.py against a real Postgres: a fleet's data backed up, restored into a fresh
database, and found there whole: the same row counts in every table of every schema, the same
rows, owned by each service's role, and nothing left for the migrator to do."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest_asyncio

from harmoniq_common.migrate import load_registry, migrate_service, role_name
from harmoniq_common.testing.databases import with_database
from harmoniq_common.testing.infra import Infra

ROOT = Path(__file__).resolve().parents[2]
SERVICES = load_registry(ROOT / "deploy" / "services.toml")


@pytest_asyncio.fixture(loop_scope="session")
async def databases(harmoniq_infra: Infra) -> AsyncIterator[tuple[str, str]]:
    """(source, target): the source migrated for every service, the target empty."""
    names = [f"hq_backup_{secrets.token_hex(4)}_{side}" for side in ("src", "dst")]
    admin = await asyncpg.connect(harmoniq_infra.postgres_url)
    try:
        for name in names:
            await admin.execute(f'CREATE DATABASE "{name}"')
        source, target = (with_database(harmoniq_infra.postgres_url, n) for n in names)
        for service in SERVICES:
            await migrate_service(source, service)
        yield source, target
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _fill(dsn: str) -> None:
    """Users, a server, messages with full-text columns and unpublished outbox events."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO auth.users (id, username, email, password_hash) VALUES ($1, $2, $3, $4)",
            [(1000 + n, f"user{n}", f"user{n}@example.com", "$argon2id$x") for n in range(50)],
        )
        await conn.execute(
            "INSERT INTO guilds.servers (id, name, owner_id) VALUES (2000, 'Backed up', 1000)"
        )
        await conn.executemany(
            "INSERT INTO messages.users (id, username) VALUES ($1, $2)",
            [(1000 + n, f"user{n}") for n in range(50)],
        )
        await conn.executemany(
            """INSERT INTO messages.messages (id, server_id, channel_id, author_id, content)
               VALUES ($1, 2000, 3000, $2, $3)""",
            [(5000 + n, 1000 + n % 50, f"message {n} 日本語 ✓") for n in range(500)],
        )
        await conn.executemany(
            "INSERT INTO messages.outbox (id, subject, payload) VALUES ($1, 'x.ev', $2)",
            [(9000 + n, bytes([n])) for n in range(5)],
        )
    finally:
        await conn.close()


def _script(*args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "deploy" / "backup.py"), *args], check=True,
                   timeout=300)  # fmt: skip


async def _rows(dsn: str, query: str, *args: object) -> list[tuple[object, ...]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(record) for record in await conn.fetch(query, *args)]
    finally:
        await conn.close()


async def test_a_backup_restores_whole_into_a_fresh_database(
    databases: tuple[str, str], tmp_path: Path
) -> None:
    source, target = databases
    await _fill(source)
    _script("backup", "--postgres-url", source, "--out", str(tmp_path))
    assert {p.name for p in tmp_path.iterdir()} == {
        "manifest.json",
        *(f"{s.schema}.dump" for s in SERVICES),
    }
    _script("restore", "--postgres-url", target, "--from", str(tmp_path))  # checks the counts

    for query in (
        "SELECT * FROM auth.users ORDER BY id",
        "SELECT * FROM guilds.servers ORDER BY id",
        "SELECT id, content, search::text FROM messages.messages ORDER BY id",
        "SELECT id, payload FROM messages.outbox ORDER BY id",
    ):
        before = await _rows(source, query)
        assert before and await _rows(target, query) == before, query
    found = await _rows(
        target,
        "SELECT count(*) FROM messages.messages WHERE search @@ to_tsquery('simple', '日本語')",
    )
    assert found == [(500,)]  # the generated search column and its index came back too
    owners = await _rows(
        target,
        "SELECT schemaname, tableowner FROM pg_tables WHERE schemaname = ANY($1::text[])",
        [s.schema for s in SERVICES],
    )
    assert owners and all(owner == role_name(str(schema)) for schema, owner in owners)
    for service in SERVICES:  # the migrations table came back: nothing left to apply
        assert await migrate_service(target, service) == []
