"""SQL for sessions (refresh-token families) and their refresh tokens."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from harmoniq_common.db import record_or_none
from harmoniq_common.ids import Snowflake

__all__ = ["RefreshTokenRow"]


class RefreshTokenRow(msgspec.Struct, frozen=True, kw_only=True):
    session_id: Snowflake
    user_id: Snowflake
    token_expires_at: datetime
    used_at: datetime | None
    session_revoked_at: datetime | None
    session_expires_at: datetime


async def create(
    conn: asyncpg.Connection,
    session_id: int,
    user_id: int,
    expires_at: datetime,
    user_agent: str | None,
    ip: str | None,
) -> None:
    await conn.execute(
        "INSERT INTO sessions (id, user_id, expires_at, user_agent, ip)"
        " VALUES ($1, $2, $3, $4, $5)",
        session_id,
        user_id,
        expires_at,
        user_agent,
        ip,
    )


async def add_refresh_token(
    conn: asyncpg.Connection, token_hash: bytes, session_id: int, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        token_hash,
        session_id,
        expires_at,
    )


async def lock_refresh_token(conn: asyncpg.Connection, token_hash: bytes) -> RefreshTokenRow | None:
    """The token and its session, row-locked so two concurrent refreshes serialise."""
    record = await conn.fetchrow(
        "SELECT t.session_id, s.user_id, t.expires_at AS token_expires_at, t.used_at,"
        " s.revoked_at AS session_revoked_at, s.expires_at AS session_expires_at"
        " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id"
        " WHERE t.token_hash = $1 FOR UPDATE OF t, s",
        token_hash,
    )
    return record_or_none(RefreshTokenRow, record)


async def mark_used(conn: asyncpg.Connection, token_hash: bytes, session_id: int) -> None:
    await conn.execute(
        "UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", token_hash
    )
    await conn.execute("UPDATE sessions SET last_used_at = now() WHERE id = $1", session_id)


async def revoke(conn: asyncpg.Connection, session_id: int, reason: str) -> bool:
    result: str = await conn.execute(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $2"
        " WHERE id = $1 AND revoked_at IS NULL",
        session_id,
        reason,
    )
    return result != "UPDATE 0"


async def revoke_all(conn: asyncpg.Connection, user_id: int, reason: str) -> list[Snowflake]:
    rows = await conn.fetch(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $2"
        " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
        user_id,
        reason,
    )
    return [Snowflake(r["id"]) for r in rows]


async def recently_revoked(conn: asyncpg.Connection, since: datetime) -> list[Snowflake]:
    rows = await conn.fetch("SELECT id FROM sessions WHERE revoked_at > $1", since)
    return [Snowflake(r["id"]) for r in rows]


async def delete_expired(conn: asyncpg.Connection, before: datetime) -> None:
    await conn.execute("DELETE FROM sessions WHERE expires_at < $1", before)
