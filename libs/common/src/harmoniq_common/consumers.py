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
        self._stop_requested = asyncio.Event()

    async def start(self) -> None:
        config = ConsumerConfig(
            durable_name=self._durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            filter_subjects=self._filters,
            max_deliver=self._max_deliver,
            ack_wait=30,
        )
        await self._js.add_consumer(self._stream, config)
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self._durable}")

    async def stop(self) -> None:
        """Let the batch in hand finish (and be acked), then stop fetching."""
        self._stopping = True
        self._stop_requested.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _subscribe(self) -> JetStreamContext.PullSubscription:
        return await self._js.pull_subscribe_bind(self._durable, stream=self._stream)

    async def _run(self) -> None:
        subscription = await self._subscribe()
        while not self._stopping:
            # Wait for a batch or for stop(), whichever comes first: shutting down does not
            # sit out the fetch. An abandoned fetch's messages are redelivered after ack_wait.
            fetching = asyncio.ensure_future(subscription.fetch(self._batch, timeout=1))
            stopping = asyncio.ensure_future(self._stop_requested.wait())
            await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not fetching.done():
                fetching.cancel()
                break
            try:
                messages = fetching.result()
            except (TimeoutError, NatsTimeout):
                CONSUMER_PENDING.labels(self._durable).set(0)
                continue
            except Exception:
                # A restarted server can leave the pull subscription dead (nats.py #504):
                # bind again rather than spin on a broken one.
                log.warning("consumer.fetch_failed", consumer=self._durable, exc_info=True)
                await asyncio.sleep(self._retry_delay)
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
                with contextlib.suppress(Exception):
                    subscription = await self._subscribe()
                continue
            for message in messages:
                await self._handle(message)
            with contextlib.suppress(Exception):  # not a JetStream message: nothing to tell
                CONSUMER_PENDING.labels(self._durable).set(messages[-1].metadata.num_pending)
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()

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
