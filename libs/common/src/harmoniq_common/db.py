"""The asyncpg pool every service uses, pinned to the service's own schema, and the one way
a store turns asyncpg records into the msgspec Structs the domain sees."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import msgspec

from .ids import Snowflake

__all__ = ["create_pool", "record_or_none", "record_to", "records_to", "role_dsn"]

R = TypeVar("R", bound=msgspec.Struct)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection needs on its way back to the pool beyond asyncpg's own clean-up
    (which rolls back an open transaction and drops listeners): nothing. asyncpg's default
    reset query (``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) is one more
    round trip per checkout (three per send, issue #15) undoing what no service does on a
    pooled connection: session-level advisory locks, cursors outside transactions (asyncpg's
    need one), LISTEN (the outbox relay no longer listens), session ``SET`` (only ``SET
    LOCAL``; the migrator uses its own connections)."""


async def create_pool(
    dsn: str, *, schema: str, application_name: str, min_size: int = 2, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose sessions see only ``schema`` (and ``pg_catalog``) by default."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"search_path": schema, "application_name": application_name[:63]},
    )
    assert pool is not None
    return pool


def role_dsn(admin_dsn: str, role: str, password: str, database: str | None = None) -> str:
    """``admin_dsn`` with the service role's credentials (and optionally another database)."""
    parts = urlsplit(admin_dsn)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    path = f"/{database}" if database else parts.path
    return urlunsplit((parts.scheme, netloc, path, parts.query, parts.fragment))


def _from_database(kind: type, value: Any) -> Any:
    # A bigint comes back as int; a field typed Snowflake (written as a string in JSON) wants
    # the Snowflake type. The database's values are trusted: no parsing, no range check.
    if kind is Snowflake:
        return Snowflake(value)
    raise NotImplementedError(f"no conversion from a database value to {kind!r}")


def record_to(kind: type[R], record: Mapping[str, Any]) -> R:
    """One row as ``kind``: its columns by name (others are ignored), their types checked."""
    return msgspec.convert(dict(record), kind, dec_hook=_from_database)


def record_or_none(kind: type[R], record: Mapping[str, Any] | None) -> R | None:
    """``fetchrow``'s answer as ``kind``, ``None`` for no row."""
    return None if record is None else record_to(kind, record)


def records_to(kind: type[R], records: Iterable[Mapping[str, Any]]) -> list[R]:
    """Rows as ``kind``, in one conversion: msgspec plans a type once per call, so a 50-row
    page converts about a fifth faster than row by row. ``dict`` first: msgspec reads an
    asyncpg ``Record`` itself, but three times slower than a dict."""
    page: Any = list[kind]  # type: ignore[valid-type]
    rows: list[R] = msgspec.convert([dict(r) for r in records], page, dec_hook=_from_database)
    return rows
