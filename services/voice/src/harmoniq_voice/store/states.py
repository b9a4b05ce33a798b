"""SQL for voice states (leased to a gateway session) and moderators' mutes."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import msgspec

from harmoniq_common.db import record_or_none, records_to
from harmoniq_common.ids import Snowflake

__all__ = [
    "StateRow",
    "clear_moderation",
    "count_in_channel",
    "delete_expired",
    "delete_in_channel",
    "delete_in_server",
    "delete_session",
    "delete_user",
    "get_for_user",
    "in_channel",
    "in_servers",
    "lock_channel",
    "peers",
    "renew",
    "set_moderation",
    "set_suppress",
    "upsert",
]


class StateRow(msgspec.Struct, frozen=True, kw_only=True):
    user_id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    session_id: str
    self_mute: bool
    self_deaf: bool
    suppress: bool
    mute: bool
    deaf: bool


# A state with its moderation, from any row source named s (a table or a DELETE's RETURNING).
_WITH_MODERATION = (
    "SELECT s.user_id, s.server_id, s.channel_id, s.session_id, s.self_mute, s.self_deaf,"
    " s.suppress, coalesce(m.mute, false) AS mute, coalesce(m.deaf, false) AS deaf FROM {source} s"
    " LEFT JOIN voice_moderation m ON m.server_id = s.server_id AND m.user_id = s.user_id"
)
_STATES = _WITH_MODERATION.format(source="voice_states")
_GONE = "WITH gone AS ({delete} RETURNING *) " + _WITH_MODERATION.format(source="gone")


async def lock_channel(conn: asyncpg.Connection, channel_id: int) -> None:
    """Serialise joins to one channel until the transaction ends (its user limit holds)."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", channel_id)


async def get_for_user(conn: asyncpg.Connection, user_id: int) -> StateRow | None:
    return record_or_none(StateRow, await conn.fetchrow(f"{_STATES} WHERE s.user_id = $1", user_id))


async def count_in_channel(conn: asyncpg.Connection, channel_id: int, excluding: int) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM voice_states WHERE channel_id = $1 AND user_id <> $2",
        channel_id,
        excluding,
    )
    return value


async def upsert(
    conn: asyncpg.Connection,
    *,
    user_id: int,
    server_id: int,
    channel_id: int,
    session_id: str,
    self_mute: bool,
    self_deaf: bool,
    suppress: bool,
    ttl_seconds: float,
) -> StateRow:
    await conn.execute(
        "INSERT INTO voice_states (user_id, server_id, channel_id, session_id, self_mute,"
        " self_deaf, suppress, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))"
        " ON CONFLICT (user_id) DO UPDATE SET server_id = $2, channel_id = $3, session_id = $4,"
        " self_mute = $5, self_deaf = $6, suppress = $7,"
        " expires_at = now() + make_interval(secs => $8),"
        " joined_at = CASE WHEN voice_states.channel_id = $3 THEN voice_states.joined_at"
        " ELSE now() END",
        user_id,
        server_id,
        channel_id,
        session_id,
        self_mute,
        self_deaf,
        suppress,
        ttl_seconds,
    )
    row = await get_for_user(conn, user_id)
    assert row is not None
    return row


async def set_suppress(conn: asyncpg.Connection, user_id: int, suppress: bool) -> None:
    await conn.execute(
        "UPDATE voice_states SET suppress = $2 WHERE user_id = $1", user_id, suppress
    )


async def set_moderation(
    conn: asyncpg.Connection, server_id: int, user_id: int, *, mute: bool | None, deaf: bool | None
) -> None:
    await conn.execute(
        "INSERT INTO voice_moderation (server_id, user_id, mute, deaf)"
        " VALUES ($1, $2, coalesce($3, false), coalesce($4, false))"
        " ON CONFLICT (server_id, user_id) DO UPDATE SET"
        " mute = coalesce($3, voice_moderation.mute), deaf = coalesce($4, voice_moderation.deaf)",
        server_id,
        user_id,
        mute,
        deaf,
    )


async def clear_moderation(conn: asyncpg.Connection, server_id: int, user_id: int | None) -> None:
    """One member's (``user_id``) or, with ``None``, the whole server's."""
    await conn.execute(
        "DELETE FROM voice_moderation WHERE server_id = $1 AND ($2::bigint IS NULL OR user_id = $2)",
        server_id,
        user_id,
    )


async def in_channel(conn: asyncpg.Connection, channel_id: int) -> list[StateRow]:
    records = await conn.fetch(
        f"{_STATES} WHERE s.channel_id = $1 ORDER BY s.joined_at, s.user_id", channel_id
    )
    return records_to(StateRow, records)


async def in_servers(conn: asyncpg.Connection, server_ids: Sequence[int]) -> list[StateRow]:
    records = await conn.fetch(
        f"{_STATES} WHERE s.server_id = ANY($1::bigint[]) ORDER BY s.server_id, s.joined_at",
        list(server_ids),
    )
    return records_to(StateRow, records)


async def peers(conn: asyncpg.Connection, user_ids: Sequence[int]) -> list[StateRow]:
    records = await conn.fetch(f"{_STATES} WHERE s.user_id = ANY($1::bigint[])", list(user_ids))
    return records_to(StateRow, records)


async def renew(conn: asyncpg.Connection, session_ids: Sequence[str], ttl_seconds: float) -> int:
    status: str = await conn.execute(
        "UPDATE voice_states SET expires_at = now() + make_interval(secs => $2)"
        " WHERE session_id = ANY($1::text[])",
        list(session_ids),
        ttl_seconds,
    )
    return int(status.rsplit(" ", 1)[-1])


async def _deleted(conn: asyncpg.Connection, delete: str, *args: object) -> list[StateRow]:
    records = await conn.fetch(_GONE.format(delete=delete), *args)
    return records_to(StateRow, records)


async def delete_user(
    conn: asyncpg.Connection,
    user_id: int,
    server_id: int | None = None,
    channel_id: int | None = None,
) -> list[StateRow]:
    """The user's state, if it is in that server / channel (``None``: wherever it is)."""
    return await _deleted(
        conn,
        "DELETE FROM voice_states WHERE user_id = $1"
        " AND ($2::bigint IS NULL OR server_id = $2) AND ($3::bigint IS NULL OR channel_id = $3)",
        user_id,
        server_id,
        channel_id,
    )


async def delete_session(conn: asyncpg.Connection, session_id: str) -> list[StateRow]:
    return await _deleted(conn, "DELETE FROM voice_states WHERE session_id = $1", session_id)


async def delete_in_channel(conn: asyncpg.Connection, channel_id: int) -> list[StateRow]:
    return await _deleted(conn, "DELETE FROM voice_states WHERE channel_id = $1", channel_id)


async def delete_in_server(conn: asyncpg.Connection, server_id: int) -> list[StateRow]:
    return await _deleted(conn, "DELETE FROM voice_states WHERE server_id = $1", server_id)


async def delete_expired(conn: asyncpg.Connection, limit: int = 500) -> list[StateRow]:
    """Leases that ran out (SKIP LOCKED: several instances sweep without waiting on each other)."""
    return await _deleted(
        conn,
        "DELETE FROM voice_states WHERE user_id IN (SELECT user_id FROM voice_states"
        " WHERE expires_at < now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)",
        limit,
    )
