"""SQL for bot accounts (rows of the users table with an owner and a token digest)."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from harmoniq_common.db import record_or_none, record_to, records_to
from harmoniq_common.ids import Snowflake

from .users import UsernameTaken

__all__ = ["BotRow"]

_COLUMNS = "id, username, avatar_url, bot_owner_id AS owner_id, created_at"


class BotRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    username: str
    avatar_url: str | None
    owner_id: Snowflake
    created_at: datetime


async def insert(
    conn: asyncpg.Connection, bot_id: int, owner_id: int, username: str, token_hash: bytes
) -> BotRow:
    try:
        record = await conn.fetchrow(
            "INSERT INTO users (id, username, bot_owner_id, bot_token_hash)"
            f" VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}",
            bot_id,
            username,
            owner_id,
            token_hash,
        )
    except asyncpg.UniqueViolationError as exc:
        raise UsernameTaken() from exc
    return record_to(BotRow, record)


async def owned_by(conn: asyncpg.Connection, owner_id: int) -> list[BotRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM users WHERE bot_owner_id = $1 AND deleted_at IS NULL ORDER BY id",
        owner_id,
    )
    return records_to(BotRow, records)


async def count_owned(conn: asyncpg.Connection, owner_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM users WHERE bot_owner_id = $1 AND deleted_at IS NULL", owner_id
    )
    return count


async def get_owned(
    conn: asyncpg.Connection, owner_id: int, bot_id: int, *, for_update: bool = False
) -> BotRow | None:
    lock = " FOR UPDATE" if for_update else ""
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM users WHERE id = $1 AND bot_owner_id = $2"
        f" AND deleted_at IS NULL{lock}",
        bot_id,
        owner_id,
    )
    return record_or_none(BotRow, record)


# A restore of the digests (domain/revocation.py) reads them all and writes Redis under the
# exclusive lock; a change of one digest takes it shared until its commit. So a restore never
# writes a digest older than one a reset or deletion has already put in Redis.
_TOKENS_LOCK = "SELECT pg_advisory_xact_lock{}(hashtext('harmoniq_auth.bot_tokens'))"


async def lock_tokens_exclusive(conn: asyncpg.Connection) -> None:
    """For the rest of the transaction no digest changes (a restore reads them all)."""
    await conn.execute(_TOKENS_LOCK.format(""))


async def set_token(conn: asyncpg.Connection, bot_id: int, token_hash: bytes) -> None:
    await conn.execute(_TOKENS_LOCK.format("_shared"))
    await conn.execute(
        "UPDATE users SET bot_token_hash = $2, updated_at = now() WHERE id = $1",
        bot_id,
        token_hash,
    )


async def forget_token(conn: asyncpg.Connection, bot_id: int) -> None:
    await conn.execute(_TOKENS_LOCK.format("_shared"))
    await conn.execute("UPDATE users SET bot_token_hash = NULL WHERE id = $1", bot_id)


async def live_tokens(conn: asyncpg.Connection) -> list[tuple[Snowflake, bytes]]:
    records = await conn.fetch(
        "SELECT id, bot_token_hash FROM users WHERE bot_owner_id IS NOT NULL"
        " AND deleted_at IS NULL AND bot_token_hash IS NOT NULL"
    )
    return [(Snowflake(r["id"]), bytes(r["bot_token_hash"])) for r in records]


async def dead(conn: asyncpg.Connection) -> list[Snowflake]:
    """Bots whose token must not work (deleted, or their owner deleted), still on record."""
    records = await conn.fetch(
        "SELECT id FROM users WHERE bot_owner_id IS NOT NULL AND deleted_at IS NOT NULL"
    )
    return [Snowflake(r["id"]) for r in records]
