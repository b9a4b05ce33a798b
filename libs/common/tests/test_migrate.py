"""Migrations: own role and schema, applied once and in order, edits refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from harmoniq_common.migrate import MigrationError, ServiceSchema, migrate_service
from harmoniq_common.testing.databases import TemplateDatabases


@pytest.fixture
def demo(tmp_path: Path) -> ServiceSchema:
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id bigint PRIMARY KEY);")
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    return ServiceSchema("demo", "demo", tmp_path)


async def test_applies_once_in_order_as_the_service_role(
    harmoniq_databases: TemplateDatabases, demo: ServiceSchema
) -> None:
    name = "hq_t_migrate_" + demo.migrations.name[-8:].lower().replace("-", "_")
    await harmoniq_databases._execute(f'CREATE DATABASE "{name}"')
    dsn = harmoniq_databases.admin_dsn(name)
    try:
        # Several instances starting at once must not apply anything twice.
        results = await asyncio.gather(*(migrate_service(dsn, demo) for _ in range(3)))
        applied = sorted(results, key=len)[-1]
        assert applied == ["common/0001_outbox.sql", "demo/0001_things.sql", "demo/0002_more.sql"]
        assert sum(len(r) for r in results) == 3
        assert await migrate_service(dsn, demo) == []

        conn = await asyncpg.connect(dsn)
        try:
            owners = await conn.fetch(
                "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'demo'"
            )
            assert {r["tableowner"] for r in owners} == {"harmoniq_demo"}
            assert {r["tablename"] for r in owners} >= {"things", "outbox", "schema_migrations"}
            columns = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'things'"
            )
            assert {r["column_name"] for r in columns} == {"id", "name"}
        finally:
            await conn.close()

        (demo.migrations / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN x int;")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate_service(dsn, demo)
    finally:
        await harmoniq_databases.drop(name)


async def test_badly_named_file_is_refused(
    harmoniq_databases: TemplateDatabases, tmp_path: Path
) -> None:
    (tmp_path / "init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_words.sql"):
        await migrate_service(
            harmoniq_databases.admin_dsn("postgres"), ServiceSchema("bad", "bad", tmp_path)
        )
