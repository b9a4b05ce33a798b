"""The users projection: a service's own copy of what auth says about users, kept by events.

A service that shows users (guilds' member lists, messages' authors) keeps them in a table of
its own schema, because it may not read auth's. :func:`users_projection_consumer` is the whole
consumer: a durable JetStream consumer of ``user.created``, ``user.updated`` and
``user.deleted`` that upserts or anonymises the row in the event's own unit of work. The
service declares its table (:class:`UsersProjection`) and, if it must, what else a deletion
means to it (``on_deleted``: guilds hands over the servers the user owned).

Idempotent twice over: each event is applied once per consumer (:func:`.first_delivery` in the
same transaction), and applying one again would change nothing: a deleted row stays deleted
whatever arrives late or is redelivered, and anonymising writes fixed values.

The table, in the service's migration::

    CREATE TABLE users (
        id          bigint PRIMARY KEY,
        username    text    NOT NULL,
        avatar_url  text,
        deleted     boolean NOT NULL DEFAULT false
        -- optionally a timestamptz column the projection sets on every change (touched_at)
    );
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import asyncpg
from nats.aio.msg import Msg

from .consumers import DurableConsumer, first_delivery
from .events import Envelope, UserCreated, UserDeleted, UserSummary, UserUpdated, decode_payload
from .ids import Snowflake
from .platform import Platform
from .uow import UnitOfWork, unit_of_work

__all__ = ["OnUserDeleted", "UsersProjection", "users_projection_consumer"]

OnUserDeleted = Callable[[UnitOfWork, Snowflake], Awaitable[None]]
OpenUnit = Callable[[Platform], AbstractAsyncContextManager[UnitOfWork]]


@dataclass(frozen=True)
class UsersProjection:
    """One service's users table: its name, how a deleted account is shown, and the column
    (if any) that records when a row last changed. Names are code, never input."""

    deleted_username: Callable[[int], str]
    table: str = "users"
    touched_at: str | None = None

    def _touch(self) -> str:
        return f", {self.touched_at} = now()" if self.touched_at else ""

    async def upsert(self, conn: asyncpg.Connection, user: UserSummary) -> None:
        """Insert or update the user's name and avatar, unless the account is deleted."""
        await conn.execute(
            f"INSERT INTO {self.table} (id, username, avatar_url) VALUES ($1, $2, $3)"
            " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
            f" avatar_url = excluded.avatar_url{self._touch()}"
            f" WHERE NOT {self.table}.deleted",
            user.id,
            user.username,
            user.avatar_url,
        )

    async def anonymise(self, conn: asyncpg.Connection, user_id: int) -> None:
        """The account is gone: its id stays (for what refers to it), its name and avatar go."""
        await conn.execute(
            f"INSERT INTO {self.table} (id, username, avatar_url, deleted)"
            " VALUES ($1, $2, NULL, true)"
            " ON CONFLICT (id) DO UPDATE SET username = excluded.username, avatar_url = NULL,"
            f" deleted = true{self._touch()}",
            user_id,
            self.deleted_username(user_id),
        )

    async def apply(
        self,
        tx: UnitOfWork,
        event: UserCreated | UserUpdated | UserDeleted,
        on_deleted: OnUserDeleted | None = None,
    ) -> None:
        if isinstance(event, UserDeleted):
            await self.anonymise(tx.conn, event.user_id)
            if on_deleted is not None:
                await on_deleted(tx, event.user_id)
        else:
            await self.upsert(tx.conn, event.user)


def users_projection_consumer(
    platform: Platform,
    projection: UsersProjection,
    *,
    durable: str,
    on_deleted: OnUserDeleted | None = None,
    open_unit: OpenUnit = unit_of_work,
) -> DurableConsumer:
    """The consumer named ``durable`` that keeps ``projection`` (start and stop it in the
    app's lifespan). ``open_unit`` is the service's unit of work when it wraps the shared one
    (guilds' moves permission epochs after commit)."""

    async def handle(envelope: Envelope, _message: Msg) -> None:
        event = decode_payload(envelope)
        if not isinstance(event, UserCreated | UserUpdated | UserDeleted):
            return
        async with open_unit(platform) as tx:
            if await first_delivery(tx.conn, durable, envelope.id):
                await projection.apply(tx, event, on_deleted)

    subjects = platform.subjects
    return DurableConsumer(
        platform.js,
        stream=subjects.events_stream,
        durable=durable,
        filter_subjects=[
            subjects.user_events_of_type(t)
            for t in (UserCreated.event_type, UserUpdated.event_type, UserDeleted.event_type)
        ],
        handler=handle,
    )
