"""Transactional outbox: a committed change's events reach JetStream at least once.

The writer calls :func:`enqueue` inside the transaction that makes the change, so the event
row commits or rolls back with it; or, when the change is one statement, the statement writes
the rows itself (:func:`prepare`, :func:`insert_rows_sql`, :func:`row_arrays`: a
data-modifying CTE, atomic without BEGIN/COMMIT). Right after the commit the request's own
task publishes the rows it wrote (:meth:`OutboxRelay.publish_committed`, from
:func:`~.uow.unit_of_work` or the one-statement writer) and deletes them once JetStream has
acknowledged them (many requests' rows in one ``DELETE`` every ``delete_every`` seconds): an
event leaves with the response, not on the relay's next wake-up. The row is the guarantee: if
the process dies between commit and ack, or NATS does not answer, it stays, and
:class:`OutboxRelay` publishes it later. The relay polls and sweeps only rows older than
``sweep_after`` seconds (what a crash or a failed publish left; younger rows belong to a
request that is still publishing them), everything at start-up and at
the final drain. One relay per schema holds a transaction-scoped advisory lock while it
publishes a batch, in id order, with pipelined acks (all of a batch's publishes are sent in
order, then the acks are awaited together). A row is deleted only after JetStream acknowledged
it, and its id is the ``Nats-Msg-Id``, so a crash between ack and delete, or the relay racing a
request's own publish, causes a duplicate that JetStream drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import msgspec
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry.trace import SpanKind

from .bus import outgoing_headers
from .events import EventPayload, encode_envelope
from .ids import Snowflake, lowest_snowflake_at
from .telemetry import extract_trace_context, inject_trace_context, tracer

__all__ = ["OutboxRelay", "OutboxRow", "enqueue", "insert_rows_sql", "prepare", "row_arrays"]

log = structlog.get_logger(__name__)

# How long a publish waits for JetStream's ack before its row is left to a later sweep: short
# for a request's own publish (its response waits), longer for the relay's batches.
_ACK_TIMEOUT_SECONDS = 1.0
_RELAY_ACK_TIMEOUT_SECONDS = 10.0
_DELETE = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
_headers_json = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One committed event as its row holds it (what a publish sends)."""

    id: int
    subject: str
    payload: bytes
    headers: dict[str, str]


def prepare(
    event_id: Snowflake, subject: str, payload: EventPayload, occurred_at: datetime | None = None
) -> OutboxRow:
    """One event as its row will hold it, not written yet: for :func:`enqueue`, or for a
    statement that writes its rows itself (:func:`insert_rows_sql`)."""
    body = encode_envelope(event_id, payload, occurred_at or datetime.now(UTC))
    return OutboxRow(int(event_id), subject, body, outgoing_headers())


async def enqueue(
    conn: asyncpg.Connection, event_id: Snowflake, subject: str, payload: EventPayload
) -> OutboxRow:
    """Write one event in the caller's transaction (the caller owns the transaction)."""
    row = prepare(event_id, subject, payload)
    await conn.execute(
        "INSERT INTO outbox (id, subject, payload, headers) VALUES ($1, $2, $3, $4)",
        row.id,
        row.subject,
        row.payload,
        row.headers,
    )
    return row


def insert_rows_sql(first: int, *, only_if: str = "true") -> str:
    """``INSERT INTO outbox …`` of the rows in four array parameters ``$first`` to
    ``$first + 3`` (:func:`row_arrays`), for a data-modifying CTE of the statement that makes
    the change: the change and its events then commit together without an explicit
    transaction (one round trip instead of BEGIN, statements, COMMIT). ``only_if``: an SQL
    condition the rows are written under (e.g. ``EXISTS (SELECT 1 FROM inserted)``), so a
    change that wrote nothing emits nothing."""
    ids, subjects, payloads, headers = (f"${first + i}" for i in range(4))
    return (
        "INSERT INTO outbox (id, subject, payload, headers)"
        " SELECT e.id, e.subject, e.payload, e.headers::jsonb"
        f" FROM unnest({ids}::bigint[], {subjects}::text[], {payloads}::bytea[],"
        f" {headers}::text[]) AS e(id, subject, payload, headers) WHERE {only_if}"
    )


def row_arrays(rows: Sequence[OutboxRow]) -> tuple[list[int], list[str], list[bytes], list[str]]:
    """The parameters :func:`insert_rows_sql` reads: ids, subjects, payloads, and headers as
    JSON text (asyncpg's jsonb codec does not reach into arrays)."""
    return (
        [row.id for row in rows],
        [row.subject for row in rows],
        [row.payload for row in rows],
        [_headers_json.encode(row.headers).decode() for row in rows],
    )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        *,
        schema: str,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        sweep_after: float = 2.0,
        delete_every: float = 0.2,
        nats: NatsClient | None = None,
    ) -> None:
        self._pool = pool
        self._js = js
        self._schema = schema
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._sweep_after = sweep_after
        self._nats = nats
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        # Sends of one batch go out back to back (their order on the stream is theirs), and
        # nats-py's async-publish inbox is made once (two first callers would make two).
        self._sending = asyncio.Lock()
        self._acked: list[int] = []  # published at once, acknowledged, not yet deleted
        self._deleter: asyncio.Task[None] | None = None
        # Acknowledged rows wait up to this long (seconds) to be deleted together: one DELETE
        # per interval instead of one per request. Each costs the process ~0.5 ms (a pool
        # checkout and a round trip): at 50 ms it was 5-6 % of the CPU of ~80 sends/s, one at
        # a time (py-spy). Far below sweep_after, so a sweep does not publish them again.
        self._delete_every = delete_every
        self._delete_now = asyncio.Event()
        self.delete_statements = 0  # DELETEs of acknowledged rows run (not the sweeps')
        self.published = 0  # rows this relay's sweeps moved
        self.published_at_once = 0  # rows their own request published right after commit

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._schema}")

    def _connected(self) -> bool:
        return self._nats is None or self._nats.is_connected

    def wake(self) -> None:
        """Sweep now (every row, whatever its age), not at the next poll."""
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
        await self.settle_deletes()
        with contextlib.suppress(Exception):
            while await self.relay_once() == self._batch_size:
                pass

    async def _run(self) -> None:
        everything = True  # at start-up: whatever a dead process left, at once
        while not self._stopping:
            self._wake.clear()
            try:
                older_than = None if everything else self._sweep_after
                while await self.relay_once(older_than=older_than) == self._batch_size:
                    pass
            except Exception:
                log.warning("outbox.relay_failed", schema=self._schema, exc_info=True)
            woken = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wake.wait()
                    woken = True
            everything = woken

    async def publish_committed(self, rows: Sequence[OutboxRow]) -> None:
        """Right after the commit, from the request's own task: publish what it wrote and
        wait for JetStream's acks; the acknowledged rows are then deleted in the background,
        many requests' in one statement (:meth:`flush_deletes`). Never raises: whatever is not
        acknowledged stays in the outbox for the relay's sweep (the change has committed)."""
        if not rows or not self._connected():
            return  # NATS is away: the relay's sweep publishes them once it is back
        try:
            acked = await self._publish_all(rows, _ACK_TIMEOUT_SECONDS)
        except Exception:
            log.warning("outbox.publish_failed", schema=self._schema, exc_info=True)
            return
        if acked:
            self.published_at_once += len(acked)
            self._acked.extend(acked)
            if self._deleter is None or self._deleter.done():
                self._deleter = asyncio.create_task(
                    self._delete_acked(), name=f"outbox-delete-{self._schema}"
                )

    async def _delete_acked(self) -> None:
        """Delete acknowledged rows until none wait, the first batch after ``delete_every``
        (what other requests acknowledge meanwhile joins it); a crash before it only causes
        duplicates that JetStream drops (the sweep publishes them again under the same
        ``Nats-Msg-Id``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._delete_every):
                await self._delete_now.wait()
        while self._acked:
            await self.flush_deletes()

    async def settle_deletes(self) -> None:
        """Until every row acknowledged so far is deleted (or left to the sweep), now."""
        if self._deleter is not None:
            self._delete_now.set()
            await self._deleter
            self._delete_now.clear()
        await self.flush_deletes()

    async def flush_deletes(self) -> None:
        """Delete every row acknowledged so far (a failure leaves them to the sweep)."""
        batch, self._acked = self._acked, []
        if not batch:
            return
        try:
            async with self._pool.acquire() as conn:
                await conn.execute(_DELETE, batch)
            self.delete_statements += 1
        except Exception:
            log.warning("outbox.delete_failed", schema=self._schema, exc_info=True)

    async def relay_once(self, older_than: float | None = None) -> int:
        """Publish one batch, in id order; returns how many rows it moved (0 if another relay
        holds it). ``older_than``: only rows committed at least that many seconds ago (ids are
        snowflakes: their time is in them)."""
        async with self._pool.acquire() as conn, conn.transaction():
            locked = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('harmoniq.outbox.' || $1::text))",
                self._schema,
            )
            if not locked:
                return 0
            below = (
                (1 << 63) - 1
                if older_than is None
                else lowest_snowflake_at(int((time.time() - older_than) * 1000))
            )
            found = await conn.fetch(
                "SELECT id, subject, payload, headers FROM outbox WHERE id < $2"
                " ORDER BY id LIMIT $1",
                self._batch_size,
                below,
            )
            rows = [
                OutboxRow(r["id"], r["subject"], bytes(r["payload"]), r["headers"]) for r in found
            ]
            acked = await self._publish_all(rows, _RELAY_ACK_TIMEOUT_SECONDS)
            if acked:
                await conn.execute(_DELETE, acked)
                self.published += len(acked)
            return len(acked)

    async def _publish_all(self, rows: Sequence[OutboxRow], timeout: float) -> list[int]:
        """Send every row in order, then await the acks together (each for up to ``timeout``
        s); the ids acknowledged. A row not acknowledged stays for a later sweep."""
        if not rows:
            return []
        async with self._sending:
            pending = [await self._send(row) for row in rows]
        # One wait for them all (no task per ack); those not acknowledged in time are dropped.
        done, late = await asyncio.wait(pending, timeout=timeout)
        for ack in late:
            ack.cancel()
        acked: list[int] = []
        for row, ack in zip(rows, pending, strict=True):
            failure = "TimeoutError" if ack not in done else _failure(ack)
            if failure:
                log.warning(
                    "outbox.publish_unacknowledged",
                    schema=self._schema,
                    event_id=row.id,
                    error=failure,
                )
            else:
                acked.append(row.id)
        return acked

    async def _send(self, row: OutboxRow) -> asyncio.Future[PubAck]:
        """One event, in the trace of the request that committed it: the consumers' spans
        follow this publish (its context replaces the writer's in the headers). The span and
        the header rewrite cost nothing when tracing records nothing (no exporter)."""
        headers = dict(row.headers)
        headers["Nats-Msg-Id"] = str(row.id)
        if _sampled(row.headers):
            with tracer().start_as_current_span(
                "outbox publish",
                context=extract_trace_context(row.headers),
                kind=SpanKind.PRODUCER,
                attributes={"messaging.system": "nats", "messaging.destination.name": row.subject},
            ):
                inject_trace_context(headers)
                return await self._js.publish_async(row.subject, row.payload, headers=headers)
        return await self._js.publish_async(row.subject, row.payload, headers=headers)


def _failure(ack: asyncio.Future[PubAck]) -> str:
    """Why a finished publish was not acknowledged ("" when it was)."""
    if ack.cancelled():
        return "CancelledError"
    error = ack.exception()
    return "" if error is None else type(error).__name__


def _sampled(headers: dict[str, str]) -> bool:
    """Whether the writer's trace is being recorded (W3C ``traceparent`` flags, lowest bit):
    only then is a publish span worth its cost; otherwise the writer's context goes on as is."""
    parent = headers.get("traceparent", "")
    return len(parent) == 55 and parent[-2:] in _SAMPLED_FLAGS


_SAMPLED_FLAGS = frozenset(f"{flags:02x}" for flags in range(256) if flags & 1)
