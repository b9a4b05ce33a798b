"""SQL for read states, mention counts and notification settings."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from harmoniq_common.db import records_to
from harmoniq_common.read_states import MAX_MENTION_COUNT

from .rows import NotificationSettingRow, ReadStateRow

__all__ = ["advance", "notification_settings", "set_notification_setting", "states"]


async def advance(conn: asyncpg.Connection, user_id: int, channel_id: int, message_id: int) -> bool:
    """Move the read state forwards to ``message_id``; False if it was there or beyond
    already (an older ack never moves it back)."""
    moved = await conn.fetchval(
        "INSERT INTO read_states (user_id, channel_id, last_read_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id, channel_id) DO UPDATE"
        " SET last_read_id = excluded.last_read_id, updated_at = now()"
        " WHERE read_states.last_read_id < excluded.last_read_id RETURNING true",
        user_id,
        channel_id,
        message_id,
    )
    return bool(moved)


# One statement for any number of channels: per channel, the user's read state, the newest
# message (one backward step of the (channel_id, id) index), the effective notification
# setting, and the unread mentions (the partial index messages_mentions; at most
# MAX_MENTION_COUNT counted). $1 user, $2 channel ids, $3 their servers (a DM: itself),
# $4/$5 the user's roles as (server id, role id) pairs, $6 read positions to use instead of
# the stored ones (0: the stored one), for an ack not written yet.
_STATES = f"""
WITH wanted AS (
    SELECT * FROM unnest($2::bigint[], $3::bigint[], $6::bigint[])
        AS w(channel_id, server_id, read_override)
), my_roles AS (
    SELECT * FROM unnest($4::bigint[], $5::bigint[]) AS r(server_id, role_id)
), positioned AS (
    SELECT w.channel_id, w.server_id,
           greatest(coalesce(rs.last_read_id, 0), w.read_override) AS last_read_id,
           coalesce(last.id, 0) AS last_message_id,
           coalesce(ch.level, sv.level, 'all') AS level,
           coalesce(ch.muted_until > now(), false) OR coalesce(sv.muted_until > now(), false)
               AS muted
    FROM wanted w
    LEFT JOIN read_states rs ON rs.user_id = $1 AND rs.channel_id = w.channel_id
    LEFT JOIN LATERAL (
        SELECT m.id FROM messages m WHERE m.channel_id = w.channel_id ORDER BY m.id DESC LIMIT 1
    ) last ON true
    LEFT JOIN notification_settings ch ON ch.user_id = $1 AND ch.scope_id = w.channel_id
    LEFT JOIN notification_settings sv ON sv.user_id = $1 AND sv.scope_id = w.server_id
)
SELECT p.channel_id, p.last_read_id, p.last_message_id, p.level, p.muted,
       CASE WHEN p.muted OR p.level = 'nothing' OR p.last_message_id <= p.last_read_id THEN 0
       ELSE (
           SELECT count(*) FROM (
               SELECT 1 FROM messages m
               WHERE m.channel_id = p.channel_id AND m.id > p.last_read_id
                 AND (m.mention_everyone OR m.mention_user_ids <> '{{}}'
                      OR m.mention_role_ids <> '{{}}')
                 AND m.author_id <> $1
                 AND (m.mention_everyone OR $1 = ANY (m.mention_user_ids)
                      OR m.mention_role_ids && ARRAY(
                          SELECT r.role_id FROM my_roles r WHERE r.server_id = p.server_id))
               LIMIT {MAX_MENTION_COUNT}
           ) mentioned
       ) END AS mention_count
FROM positioned p
WHERE p.last_message_id > 0 OR p.last_read_id > 0
"""


async def states(
    conn: asyncpg.Connection,
    user_id: int,
    channels: list[tuple[int, int]],
    roles: list[tuple[int, int]],
    read_overrides: dict[int, int] | None = None,
) -> list[ReadStateRow]:
    """Read states of ``channels`` ((channel id, server id) pairs) with the user's ``roles``
    ((server id, role id) pairs); channels without a message or a read state are left out."""
    overrides = read_overrides or {}
    return records_to(
        ReadStateRow,
        await conn.fetch(
            _STATES,
            user_id,
            [c for c, _ in channels],
            [s for _, s in channels],
            [s for s, _ in roles],
            [r for _, r in roles],
            [overrides.get(c, 0) for c, _ in channels],
        ),
    )


async def notification_settings(
    conn: asyncpg.Connection, user_id: int
) -> list[NotificationSettingRow]:
    return records_to(
        NotificationSettingRow,
        await conn.fetch(
            "SELECT scope_id, level, muted_until FROM notification_settings"
            " WHERE user_id = $1 ORDER BY scope_id",
            user_id,
        ),
    )


async def set_notification_setting(
    conn: asyncpg.Connection,
    user_id: int,
    scope_id: int,
    level: str | None,
    muted_until: datetime | None,
) -> None:
    if level is None and muted_until is None:
        await conn.execute(
            "DELETE FROM notification_settings WHERE user_id = $1 AND scope_id = $2",
            user_id,
            scope_id,
        )
        return
    await conn.execute(
        "INSERT INTO notification_settings (user_id, scope_id, level, muted_until)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, scope_id) DO UPDATE"
        " SET level = excluded.level, muted_until = excluded.muted_until, updated_at = now()",
        user_id,
        scope_id,
        level,
        muted_until,
    )
