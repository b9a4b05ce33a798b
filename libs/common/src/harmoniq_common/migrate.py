"""Plain-SQL migrations, one schema and one Postgres role per service.

``migrate_service`` (run with an admin DSN) creates the service's role and schema, then applies
``libs/common``'s shared migrations (``common/NNNN_*.sql``: the outbox) and the service's own
``NNNN_*.sql`` files in order, each in its own transaction as the service role, so every object
belongs to that role and no other role can touch it. Applied files are recorded with a checksum
in ``<schema>.schema_migrations``; an advisory lock lets several instances run it at once and
still apply each file exactly once. A recorded file whose text changed is an error: landed
migrations are never edited.

CLI: ``python -m harmoniq_common.migrate [--registry deploy/services.toml] [SERVICE ...]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .settings import dsn_problem, secret_problem

__all__ = [
    "DEFAULT_ROLE_PASSWORD",
    "MigrationError",
    "ServiceSchema",
    "load_registry",
    "migrate_service",
    "prepare_schema",
    "role_name",
]

COMMON_MIGRATIONS = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
DEFAULT_ROLE_PASSWORD = "harmoniq-dev"


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class ServiceSchema:
    name: str
    schema: str
    migrations: Path
    # Trusted Postgres extensions the service's SQL uses (e.g. pg_trgm). Service roles may not
    # create extensions, so the migrator does, in the shared schema "extensions"; the service
    # names their objects qualified (``extensions.gin_trgm_ops``).
    extensions: tuple[str, ...] = ()


def role_name(schema: str) -> str:
    return f"harmoniq_{schema}"


def _files(directory: Path, label: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        if not _NAME.match(path.name):
            raise MigrationError(f"{path}: migration files are named NNNN_words.sql")
        found.append((f"{label}/{path.name}", path.read_text()))
    return found


async def prepare_schema(
    conn: asyncpg.Connection, service: ServiceSchema, *, role_password: str
) -> None:
    """The service's role (created, or its password set), its extensions, and its empty
    schema owned by the role; then holds the schema's migration lock for the session.
    Shared by the migrator and the restore of a backup (deploy/backup.py)."""
    schema = service.schema
    if not _IDENT.match(schema):
        raise MigrationError(f"bad schema name {schema!r}")
    role = role_name(schema)
    # Roles are cluster-wide: two migrators racing on CREATE ROLE must not both fail.
    await conn.execute("SELECT pg_advisory_lock(hashtext('harmoniq.migrate.roles'))")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
        verb = "ALTER" if exists else "CREATE"
        password = role_password.replace("'", "''")
        await conn.execute(f"{verb} ROLE {role} LOGIN PASSWORD '{password}'")
        for extension in service.extensions:
            if not _IDENT.match(extension):
                raise MigrationError(f"bad extension name {extension!r}")
            await conn.execute("CREATE SCHEMA IF NOT EXISTS extensions")
            await conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA extensions")
            await conn.execute(f"GRANT USAGE ON SCHEMA extensions TO {role}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext('harmoniq.migrate.roles'))")
    database = await conn.fetchval("SELECT current_database()")
    await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {role}')
    await conn.execute(
        "SELECT pg_advisory_lock(hashtext($1))", f"harmoniq.migrate.{database}.{schema}"
    )
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
    await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")


async def migrate_service(
    admin_dsn: str, service: ServiceSchema, *, role_password: str = DEFAULT_ROLE_PASSWORD
) -> list[str]:
    """Apply what is missing; return the names applied now."""
    schema = service.schema
    role = role_name(schema)
    files = _files(COMMON_MIGRATIONS, "common") + _files(service.migrations, service.name)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await prepare_schema(conn, service, role_password=role_password)
        await conn.execute(f"SET ROLE {role}")
        await conn.execute(f"SET search_path = {schema}")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = dict(await conn.fetch("SELECT name, checksum FROM schema_migrations"))
        done: list[str] = []
        for name, sql in files:
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if name in applied:
                if applied[name] != checksum:
                    raise MigrationError(f"{name} changed after it was applied; add a new file")
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    name,
                    checksum,
                )
            done.append(name)
        return done
    finally:
        conn.terminate()


def load_registry(path: Path) -> list[ServiceSchema]:
    """Services from ``deploy/services.toml``; paths are relative to the repository root."""
    root = path.resolve().parent.parent
    data = tomllib.loads(path.read_text())
    return [
        ServiceSchema(
            name,
            entry["schema"],
            root / entry["migrations"],
            tuple(entry.get("extensions", ())),
        )
        for name, entry in data.items()
    ]


async def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m harmoniq_common.migrate")
    parser.add_argument("services", nargs="*", help="default: every service in the registry")
    parser.add_argument("--registry", default="deploy/services.toml", type=Path)
    parser.add_argument("--admin-url", default=os.environ.get("HARMONIQ_POSTGRES_URL"))
    args = parser.parse_args(argv)
    if not args.admin_url:
        parser.error("set HARMONIQ_POSTGRES_URL or pass --admin-url")
    registry = load_registry(args.registry)
    chosen = [s for s in registry if not args.services or s.name in args.services]
    if os.environ.get("HARMONIQ_ENV") == "production":
        # The superuser's and the roles' passwords are only ever seen here (settings.py).
        problems = [dsn_problem("HARMONIQ_POSTGRES_URL", args.admin_url)] + [
            secret_problem(
                variable := f"HARMONIQ_{service.schema.upper()}_DB_PASSWORD",
                os.environ.get(variable),
            )
            for service in chosen
        ]
        if found := [problem for problem in problems if problem]:
            parser.error("HARMONIQ_ENV=production refuses default secrets: " + "; ".join(found))
    for service in chosen:
        password = (
            os.environ.get(f"HARMONIQ_{service.schema.upper()}_DB_PASSWORD")
            or DEFAULT_ROLE_PASSWORD
        )
        done = await migrate_service(args.admin_url, service, role_password=password)
        print(f"{service.name}: applied {len(done)} migration(s) {done}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main(sys.argv[1:])))
