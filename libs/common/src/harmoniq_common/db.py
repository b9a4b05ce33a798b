"""The asyncpg pool every service uses, pinned to the service's own schema."""

from __future__ import annotations

import json
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg

__all__ = ["create_pool", "role_dsn"]


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, schema: str, application_name: str, min_size: int = 2, max_size: int = 10
) -> asyncpg.Pool:
    """A pool whose sessions see only ``schema`` (and ``pg_catalog``) by default."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
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
