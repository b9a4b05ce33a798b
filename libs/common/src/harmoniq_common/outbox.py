"""Transactional outbox: a committed change's events reach JetStream at least once.

The writer calls :func:`enqueue` inside the transaction that makes the change, so the event
row commits or rolls back with it. :class:`OutboxRelay` moves rows to JetStream: it wakes on
``NOTIFY`` (sent at commit), and also polls, so rows left by a process that died right after
committing are published by whichever instance runs next. One relay per schema holds a
transaction-scoped advisory lock while it publishes a batch, which keeps the stream in commit
order; a row is deleted only in the transaction that saw JetStream acknowledge it, and its id is
the ``Nats-Msg-Id``, so a crash between ack and delete causes a duplicate that JetStream drops.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg
import structlog
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind

from .bus import outgoing_headers
from .events import EventPayload, encode_envelope
from .ids import Snowflake
from .telemetry import extract_trace_context, inject_trace_context, tracer

__all__ = ["OutboxRelay", "enqueue"]

log = structlog.get_logger(__name__)

_CHANNEL = "harmoniq_outbox"


async def enqueue(
    conn: asyncpg.Connection, event_id: Snowflake, subject: str, payload: EventPayload
) -> None:
    """Write one event in the caller's transaction (the caller owns the transaction)."""
    body = encode_envelope(event_id, payload, datetime.now(UTC))
    await conn.execute(
        "INSERT INTO outbox (id, subject, payload, headers) VALUES ($1, $2, $3, $4)",
        event_id,
        subject,
        body,
        outgoing_headers(),
    )
    await conn.execute("SELECT pg_notify($1, current_schema())", _CHANNEL)


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        schema: str,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self._pool = pool
        self._js = js
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self.published = 0

    async def start(self) -> None:
        await self._listen()
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._schema}")

    async def _listen(self) -> None:
        """Hold a connection that hears commits; again when Postgres restarted and closed it
        (meanwhile the poll still publishes everything, only later)."""
        if self._listening():
            return
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._pool.release(self._listener)
            self._listener = None
        listener = await self._pool.acquire()
        await listener.add_listener(_CHANNEL, self._on_notify)
        self._listener = listener
        self._wake.set()  # commits made while nobody listened

    def _listening(self) -> bool:
        try:
            return self._listener is not None and not self._listener.is_closed()
        except asyncpg.InterfaceError:  # the pool took it back when it broke
            return False

    def _on_notify(self, _conn: object, _pid: int, _channel: str, schema: str) -> None:
        if schema == self._schema:
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Finish the batch in flight, then one last drain so nothing committed waits.

        A flag and a wake-up, not ``Task.cancel()``: a cancel that lands while the wait is
        completing can be swallowed (Python 3.11 ``wait_for``), leaving the loop running.
        """
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.relay_once()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(_CHANNEL, self._on_notify)
                await self._pool.release(self._listener)
            self._listener = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._listen()
                while await self.relay_once() == self._batch_size:
                    pass
            except Exception:
                log.warning("outbox.relay_failed", schema=self._schema, exc_info=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many rows it moved (0 if another relay holds it)."""
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('harmoniq.outbox.' || $1::text))",
                self._schema,
            )
            if not locked:
                return 0
            rows = await conn.fetch(
                "SELECT id, subject, payload, headers FROM outbox ORDER BY id LIMIT $1",
                self._batch_size,
            )
            for row in rows:
                await self._publish(
                    row["id"], row["subject"], bytes(row["payload"]), row["headers"]
                )
            if rows:
                await conn.execute(
                    "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [row["id"] for row in rows]
                )
                self.published += len(rows)
            return len(rows)

    async def _publish(
        self, event_id: int, subject: str, payload: bytes, written: dict[str, str]
    ) -> None:
        """One event, in the trace of the request that committed it: the consumers' spans
        follow this publish (its context replaces the writer's in the headers)."""
        headers = dict(written)
        with tracer().start_as_current_span(
            "outbox publish",
            context=extract_trace_context(headers),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.destination.name": subject},
        ):
            inject_trace_context(headers)
            headers["Nats-Msg-Id"] = str(event_id)
            await self._js.publish(subject, payload, headers=headers)
