"""Durable event consumers and request/reply, the two ways a service hears from another.

:class:`DurableConsumer` is a JetStream pull consumer with explicit acks: a message is acked
only after its handler returned, so a crash means redelivery, never loss (at least once). The
handler must therefore be idempotent; :func:`first_delivery` records processed event ids in the
service's ``processed_events`` table inside the handler's own transaction. A failing handler's
message is NAKed with a delay and retried; after ``max_deliver`` attempts it is left for
operators (logged, counted). Correlation id and trace context from the headers are bound while
the handler runs.

:func:`request` / :func:`serve` wrap core NATS request/reply with msgspec bodies and the same
headers; a responder answers errors as ``{"error": {"code", "message"}}`` so callers can map them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import msgspec
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge

from .bus import outgoing_headers
from .codec import decode, encode
from .error_tracking import capture_exception
from .errors import ApiError, ServiceUnavailable
from .events import Envelope, decode_envelope
from .logging import CORRELATION_HEADER, bind_correlation_id
from .telemetry import extract_trace_context, tracer

__all__ = ["DurableConsumer", "RpcError", "first_delivery", "request", "serve"]

log = structlog.get_logger(__name__)
T = TypeVar("T")

EVENTS_HANDLED = Counter(
    "harmoniq_events_handled_total", "Durable events handled", ["consumer", "outcome"]
)

# Events JetStream holds for the consumer beyond the one just delivered (0 when a fetch finds
# none): its lag, from the metadata of every delivery, at no cost.
CONSUMER_PENDING = Gauge(
    "harmoniq_consumer_pending", "Durable events waiting for this consumer", ["consumer"]
)

Handler = Callable[[Envelope, Msg], Awaitable[None]]


async def first_delivery(conn: asyncpg.Connection, consumer: str, event_id: int) -> bool:
    """True the first time ``consumer`` sees ``event_id`` (call inside the handler's transaction)."""
    inserted = await conn.fetchval(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2)"
        " ON CONFLICT DO NOTHING RETURNING true",
        consumer,
        event_id,
    )
    return bool(inserted)


class DurableConsumer:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        stream: str,
        durable: str,
        filter_subjects: list[str],
        handler: Handler,
        batch: int = 64,
        max_deliver: int = 10,
        retry_delay: float = 1.0,
    ) -> None:
        self._js = js
        self._stream = stream
        self._durable = durable
        self._filters = filter_subjects
        self._handler = handler
        self._batch = batch
        self._max_deliver = max_deliver
        self._retry_delay = retry_delay
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._received: asyncio.Queue[Msg | None] = asyncio.Queue()  # None: stop()

    async def start(self) -> None:
        await self._js.add_consumer(self._stream, self._config())
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self._durable}")

    def _config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self._durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subjects=self._filters,
            max_deliver=self._max_deliver,
            ack_wait=30,
        )

    async def stop(self) -> None:
        """Finish (and ack) the event in hand, then stop pulling. Events delivered but not
        handled yet are NAKed, so another instance takes them without waiting out
        ``ack_wait``."""
        self._stopping = True
        self._received.put_nowait(None)
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        nc = self._js._nc  # nats-py gives a JetStream context's client no public name
        pull = _StandingPull(
            nc,
            f"{self._js._prefix}.CONSUMER.MSG.NEXT.{self._stream}.{self._durable}",
            nc.new_inbox(),
            batch=self._batch,
        )

        async def deliver(message: Msg) -> None:
            pull.heard_at = time.monotonic()  # on arrival: a slow handler is not silence
            self._received.put_nowait(message)

        subscription = await nc.subscribe(pull.inbox, cb=deliver)
        lag_read_at = 0.0
        try:
            while not self._stopping:
                if pull.due():
                    await self._request(pull)
                message = await self._next()
                if message is None or not pull.heard(message):
                    continue
                await self._handle(message)
                # The lag, from the delivery's metadata: when caught up, and every second
                # of a long catch-up (the lag alert reads it), not for every event.
                if self._received.empty() or time.monotonic() - lag_read_at >= 1:
                    lag_read_at = time.monotonic()
                    with contextlib.suppress(Exception):
                        CONSUMER_PENDING.labels(self._durable).set(message.metadata.num_pending)
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
            await self._give_back()

    async def _request(self, pull: _StandingPull) -> None:
        if pull.lost is not None:
            # Turned down (the consumer deleted, a leader changing), unanswered, or a new
            # connection (perhaps to a server that lost its state): make sure the consumer
            # exists, as start() does (create-or-update), then ask again. Redeliveries are
            # fine: handlers are idempotent.
            log.warning("consumer.pull_lost", consumer=self._durable, reason=pull.lost)
            await asyncio.sleep(self._retry_delay)
            try:
                await self._js.add_consumer(self._stream, self._config())
            except Exception:
                log.warning("consumer.recreate_failed", consumer=self._durable, exc_info=True)
        try:
            await pull.request()
        except Exception:  # the connection closing: the next turn asks again
            log.warning("consumer.pull_failed", consumer=self._durable, exc_info=True)
            await asyncio.sleep(self._retry_delay)

    async def _next(self) -> Msg | None:
        """The next delivery; None after a second without one, or on stop()."""
        if not self._received.empty():
            return self._received.get_nowait()
        try:
            async with asyncio.timeout(1):
                return await self._received.get()
        except TimeoutError:
            CONSUMER_PENDING.labels(self._durable).set(0)
            return None

    async def _give_back(self) -> None:
        while not self._received.empty():
            message = self._received.get_nowait()
            if message is not None and _status(message) is None:
                with contextlib.suppress(Exception):
                    await message.nak()

    async def _handle(self, message: Msg) -> None:
        headers = message.headers or {}
        bind_correlation_id(headers.get(CORRELATION_HEADER))
        span = tracer().start_span(
            f"consume {self._durable}",
            context=extract_trace_context(headers),
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "nats", "messaging.destination.name": message.subject},
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            envelope = decode_envelope(message.data)
            await self._handler(envelope, message)
        except msgspec.ValidationError:
            log.error("consumer.undecodable_event", consumer=self._durable, subject=message.subject)
            EVENTS_HANDLED.labels(self._durable, "undecodable").inc()
            await message.term()
            return
        except Exception as error:
            attempt = message.metadata.num_delivered if message.metadata else 0
            log.warning(
                "consumer.handler_failed",
                consumer=self._durable,
                attempt=attempt,
                subject=message.subject,
                exc_info=True,
            )
            EVENTS_HANDLED.labels(self._durable, "retry").inc()
            if attempt >= self._max_deliver:  # its last try: a person must look at it
                capture_exception(
                    error,
                    tags={"consumer": self._durable, "subject": message.subject},
                )
            await message.nak(delay=self._retry_delay)
            return
        finally:
            otel_context.detach(token)
            span.end()
        await message.ack()
        EVENTS_HANDLED.labels(self._durable, "ok").inc()


def _status(message: Msg) -> str | None:
    """A JetStream status code (heartbeat, request expired, refused), None for an event."""
    return None if message.headers is None else message.headers.get(_STATUS)


_STATUS = "Status"
_PENDING_MESSAGES = "Nats-Pending-Messages"


class _StandingPull:
    """Pull requests kept standing for one consumer, rather than a fetch per batch.

    A fetch costs JetStream two requests (one that returns at once, one that waits) and a
    "no messages" answer every time the consumer catches up, which at a steady trickle is
    every event. Here requests of ``batch`` events wait on the server for ``_EXPIRES`` s, and a
    new one is sent when fewer than half the events asked for are still to come: deliveries
    flow with only their acks going back. The count is kept from the deliveries and from
    the server's status messages (an expired request says how many it did not deliver).
    Requests are lost on a new connection (the server may have restarted), when the server
    turns them down, or when it stays silent past two idle heartbeats."""

    def __init__(self, nc: NatsClient, subject: str, inbox: str, *, batch: int) -> None:
        self._nc = nc
        self._subject = subject
        self.inbox = inbox
        self._batch = batch
        self._outstanding = 0  # events asked for and not yet delivered or expired
        self.heard_at = 0.0  # the last delivery or status to reach the inbox
        self._reconnects = -1
        self.lost: str | None = None  # why the standing requests are gone, if they are

    def due(self) -> bool:
        reconnects = self._nc.stats["reconnects"]
        if reconnects != self._reconnects:
            self._outstanding = 0
            self.lost = "reconnected" if self._reconnects >= 0 else None
            self._reconnects = reconnects
        elif time.monotonic() - self.heard_at > 2 * _HEARTBEAT_SECONDS + 1:
            self._outstanding = 0
            self.lost = "silent"
        return self._outstanding <= self._batch // 2

    async def request(self) -> None:
        wanted = self._batch - self._outstanding
        await self._nc.publish(
            self._subject,
            b'{"batch":%d,"expires":%d,"idle_heartbeat":%d}'
            % (wanted, _EXPIRES_SECONDS * 10**9, _HEARTBEAT_SECONDS * 10**9),
            reply=self.inbox,
        )
        self.lost = None
        self._outstanding = self._batch
        self.heard_at = time.monotonic()

    def heard(self, message: Msg) -> bool:
        """Count one delivery; True when it is an event to handle."""
        status = _status(message)
        if status is None:
            self._outstanding = max(0, self._outstanding - 1)
            return True
        if status != "100":  # 100: an idle heartbeat, the requests still stand
            undelivered = message.headers.get(_PENDING_MESSAGES) if message.headers else None
            if undelivered is not None and undelivered.isdigit():
                self._outstanding = max(0, self._outstanding - int(undelivered))
            else:  # turned down whole (409 and the like)
                self._outstanding = 0
                self.lost = status
        return False


_EXPIRES_SECONDS = 30
_HEARTBEAT_SECONDS = 5


class RpcError(msgspec.Struct, frozen=True):
    code: str
    message: str
    status: int = 400  # the HTTP status the asking service answers its own caller with
    retry_after: str | None = None  # a 429's Retry-After, for the asking service to pass on


class _RpcReply(msgspec.Struct, frozen=True):
    error: RpcError | None = None
    result: msgspec.Raw = msgspec.Raw(b"null")


async def request(
    nc: NatsClient, subject: str, body: Any, response_type: type[T], *, timeout: float = 2.0
) -> T:
    """Ask another service and wait for its answer; its errors come back as :class:`ApiError`."""
    try:
        reply = await nc.request(subject, encode(body), timeout=timeout, headers=outgoing_headers())
    except (TimeoutError, NatsTimeout, NoRespondersError) as exc:
        raise ServiceUnavailable(f"no answer from {subject}") from exc
    decoded = decode(reply.data, _RpcReply)
    if decoded.error is not None:
        retry_after = decoded.error.retry_after
        raise ApiError(
            decoded.error.message,
            code=decoded.error.code,
            status_code=decoded.error.status,
            headers=None if retry_after is None else {"Retry-After": retry_after},
        )
    return decode(decoded.result, response_type)


async def _handled(handler: Callable[[T], Awaitable[Any]], question: T, subject: str) -> _RpcReply:
    try:
        return _RpcReply(result=msgspec.Raw(encode(await handler(question))))
    except ApiError as exc:
        return _RpcReply(
            error=RpcError(exc.code, exc.message, exc.status_code, exc.headers.get("Retry-After"))
        )
    except Exception:
        log.exception("rpc.handler_failed", subject=subject)
        return _RpcReply(error=RpcError("internal_error", "internal error", 503))


async def serve(
    nc: NatsClient,
    subject: str,
    request_type: type[T],
    handler: Callable[[T], Awaitable[Any]],
    *,
    queue: str,
    concurrency: int = 16,
) -> Subscription:
    """Answer requests on ``subject``; instances share the work through the queue group.

    nats-py hands a subscription's messages to its callback one at a time, so questions are
    answered in tasks, up to ``concurrency`` at once: one waiting on the database does not
    hold up the others. When all are busy the callback waits, and further questions stay
    queued in the subscription."""
    slots = asyncio.Semaphore(concurrency)
    answering: set[asyncio.Task[None]] = set()

    async def answer(message: Msg) -> None:
        try:
            bind_correlation_id((message.headers or {}).get(CORRELATION_HEADER))
            try:
                question = decode(message.data, request_type)
            except msgspec.DecodeError as exc:  # not JSON, or not the question's shape
                reply = _RpcReply(error=RpcError("invalid_request", str(exc)))
            else:  # the handler's own failures are never the asker's bad question
                reply = await _handled(handler, question, subject)
            await message.respond(encode(reply))
        finally:
            slots.release()

    async def respond(message: Msg) -> None:
        await slots.acquire()
        task = asyncio.create_task(answer(message))
        answering.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(answering.discard)

    return await nc.subscribe(subject, queue=queue, cb=respond)
