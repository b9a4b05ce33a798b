"""A unit of work: one transaction, the events it emits, and what must run after it commits.

The door (HTTP handler or NATS consumer) opens it; domain code writes through ``tx.conn``,
emits durable events with :meth:`UnitOfWork.emit_server` / :meth:`UnitOfWork.emit_user`
(outbox rows in the same transaction, on the subject the event's type and id name; published
by this task right after the commit, the relay sweeps only what that left) and
registers side effects that must not happen unless the change is durable (Redis marks, cache
invalidation) with :meth:`UnitOfWork.after_commit`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg

from .events import EventPayload
from .ids import Snowflake
from .outbox import OutboxRow, enqueue
from .platform import Platform

__all__ = ["UnitOfWork", "unit_of_work"]


@dataclass
class UnitOfWork:
    conn: asyncpg.Connection
    platform: Platform
    emitted: list[tuple[str, EventPayload]] = field(default_factory=list)  # (subject, event)
    rows: list[OutboxRow] = field(default_factory=list)  # what a commit publishes at once
    _after_commit: list[Callable[[], Awaitable[object]]] = field(default_factory=list)

    async def emit_server(self, server_id: int, payload: EventPayload) -> Snowflake:
        """A durable event about a server: its members' sessions and the services that follow
        servers get it (``{ns}.ev.server.{server_id}.{type}``)."""
        subject = self.platform.subjects.server_event(server_id, payload.event_type)
        return await self.emit(subject, payload)

    async def emit_user(self, user_id: int, payload: EventPayload) -> Snowflake:
        """A durable event for one user: their own sessions get it, and the services that
        follow users (``{ns}.ev.user.{user_id}.{type}``)."""
        subject = self.platform.subjects.user_event(user_id, payload.event_type)
        return await self.emit(subject, payload)

    async def emit(self, subject: str, payload: EventPayload) -> Snowflake:
        """An outbox row for ``subject``; prefer :meth:`emit_server` / :meth:`emit_user`."""
        event_id = self.platform.new_id()
        self.rows.append(await enqueue(self.conn, event_id, subject, payload))
        self.emitted.append((subject, payload))
        return event_id

    def after_commit(self, action: Callable[[], Awaitable[object]]) -> None:
        self._after_commit.append(action)


@asynccontextmanager
async def unit_of_work(platform: Platform) -> AsyncIterator[UnitOfWork]:
    async with platform.pool.acquire() as conn, conn.transaction():
        uow = UnitOfWork(conn, platform)
        yield uow
    # Committed, and the connection is back in the pool. First the side effects, in the order
    # they were registered (an access epoch bumped, a revocation marked, before anyone hears
    # of the change); then its events leave, from this task (issue #15). The rows stay until
    # JetStream acknowledged them: the relay sweeps whatever this does not get out.
    try:
        for action in uow._after_commit:
            await action()
    finally:
        if uow.rows:
            await platform.outbox.publish_committed(uow.rows)
