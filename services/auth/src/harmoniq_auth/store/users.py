"""SQL for the users table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from harmoniq_common.db import record_or_none, record_to, records_to
from harmoniq_common.ids import Snowflake

__all__ = ["EmailTaken", "UserRow", "UsernameTaken"]


class UserRow(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    username: str
    email: str | None
    password_hash: str | None
    avatar_url: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    tokens_revoked_before: datetime | None
    deleted_at: datetime | None


class UsernameTaken(Exception):
    pass


class EmailTaken(Exception):
    pass


_COLUMNS = (
    "id, username, email, password_hash, avatar_url, status, created_at, updated_at,"
    " tokens_revoked_before, deleted_at"
)


def _unique_violation(exc: asyncpg.UniqueViolationError) -> Exception:
    if exc.constraint_name == "users_email_unique":
        return EmailTaken()
    return UsernameTaken()


async def insert(
    conn: asyncpg.Connection, user_id: int, username: str, email: str, password_hash: str
) -> UserRow:
    try:
        record = await conn.fetchrow(
            f"INSERT INTO users (id, username, email, password_hash) VALUES ($1, $2, $3, $4)"
            f" RETURNING {_COLUMNS}",
            user_id,
            username,
            email,
            password_hash,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _unique_violation(exc) from exc
    return record_to(UserRow, record)


async def get(
    conn: asyncpg.Connection, user_id: int, *, for_update: bool = False
) -> UserRow | None:
    lock = " FOR UPDATE" if for_update else ""
    return record_or_none(
        UserRow, await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1{lock}", user_id)
    )


async def get_many(conn: asyncpg.Connection, user_ids: Sequence[int]) -> list[UserRow]:
    records = await conn.fetch(f"SELECT {_COLUMNS} FROM users WHERE id = ANY($1)", user_ids)
    return records_to(UserRow, records)


async def find_by_login(conn: asyncpg.Connection, login: str) -> UserRow | None:
    """A live account by e-mail (stored lower-case) or by username, case-insensitively."""
    return record_or_none(
        UserRow,
        await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM users WHERE deleted_at IS NULL"
            " AND (email = lower($1) OR lower(username) = lower($1)) LIMIT 1",
            login,
        ),
    )


async def update_profile(
    conn: asyncpg.Connection,
    user_id: int,
    *,
    username: str | None,
    avatar_url: str | None,
    clear_avatar: bool,
    status: str | None,
) -> UserRow:
    try:
        record = await conn.fetchrow(
            "UPDATE users SET username = coalesce($2, username),"
            " avatar_url = CASE WHEN $4 THEN NULL ELSE coalesce($3, avatar_url) END,"
            " status = coalesce($5, status), updated_at = now()"
            f" WHERE id = $1 RETURNING {_COLUMNS}",
            user_id,
            username,
            avatar_url,
            clear_avatar,
            status,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _unique_violation(exc) from exc
    return record_to(UserRow, record)


async def set_password(
    conn: asyncpg.Connection, user_id: int, password_hash: str, revoked_before: datetime
) -> None:
    await conn.execute(
        "UPDATE users SET password_hash = $2, tokens_revoked_before = $3, updated_at = now()"
        " WHERE id = $1",
        user_id,
        password_hash,
        revoked_before,
    )


async def rehash_password(conn: asyncpg.Connection, user_id: int, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)


async def revoke_tokens_before(conn: asyncpg.Connection, user_id: int, before: datetime) -> None:
    await conn.execute(
        "UPDATE users SET tokens_revoked_before = greatest(tokens_revoked_before, $2)"
        " WHERE id = $1",
        user_id,
        before,
    )


async def anonymise(conn: asyncpg.Connection, user_id: int, deleted_at: datetime) -> None:
    """Disable the account and drop its personal data; the row stays until the purge."""
    await conn.execute(
        "UPDATE users SET username = 'deleted-' || id::text, email = NULL,"
        " password_hash = NULL, avatar_url = NULL, status = 'invisible',"
        " deleted_at = $2, tokens_revoked_before = $2, updated_at = $2 WHERE id = $1",
        user_id,
        deleted_at,
    )


async def purge_deleted(conn: asyncpg.Connection, older_than: datetime, limit: int) -> int:
    """Delete at most ``limit`` accounts deleted before ``older_than``; SKIP LOCKED makes
    concurrent purgers on several instances split the work instead of waiting on each other."""
    result = await conn.execute(
        "DELETE FROM users WHERE id IN (SELECT id FROM users WHERE deleted_at < $1"
        " ORDER BY deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        older_than,
        limit,
    )
    return int(result.split()[-1])


async def recently_revoked(
    conn: asyncpg.Connection, since: datetime
) -> list[tuple[Snowflake, datetime]]:
    rows = await conn.fetch(
        "SELECT id, tokens_revoked_before FROM users WHERE tokens_revoked_before > $1", since
    )
    return [(Snowflake(r["id"]), r["tokens_revoked_before"]) for r in rows]
