"""The unit of work names an event's subject from the event: callers give a server or a user."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import asyncpg

from harmoniq_common.bus import Subjects
from harmoniq_common.events import ServerDeleted, UserDeleted
from harmoniq_common.ids import Snowflake, SnowflakeGenerator
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork


async def test_emit_server_and_emit_user_write_outbox_rows_on_their_subjects(
    pool: asyncpg.Pool, namespace: str
) -> None:
    subjects = Subjects(namespace)
    # What a unit of work uses of the platform: the subjects and the id generator.
    platform = cast(
        Platform, SimpleNamespace(subjects=subjects, new_id=SnowflakeGenerator(5).next_id)
    )
    async with pool.acquire() as conn, conn.transaction():
        tx = UnitOfWork(conn, platform)
        await tx.emit_server(42, ServerDeleted(server_id=Snowflake(42)))
        await tx.emit_user(7, UserDeleted(user_id=Snowflake(7), deleted_at=datetime.now(UTC)))
    rows = [r["subject"] for r in await pool.fetch("SELECT subject FROM outbox ORDER BY id")]
    assert rows == [
        f"{namespace}.ev.server.42.server.deleted",
        f"{namespace}.ev.user.7.user.deleted",
    ]
    assert [subject for subject, _ in tx.emitted] == rows
    assert [subjects.server_of(s) for s in rows] == [42, None]
    assert [subjects.user_of(s) for s in rows] == [None, 7]


def test_subjects_parse_only_their_own_namespace_and_kind() -> None:
    subjects = Subjects("ns")
    assert subjects.user_of(subjects.user_event(5, "member.joined")) == 5
    assert subjects.server_of(subjects.server_event(9, "role.updated")) == 9
    for other in ("other.ev.user.5.user.deleted", "ns.eph.server.9.typing", "ns.ev.user.*.x"):
        assert subjects.user_of(other) is None
        assert subjects.server_of(other) is None
    assert subjects.user_events(5) == "ns.ev.user.5.>"
    assert subjects.server_events(9) == "ns.ev.server.9.>"
