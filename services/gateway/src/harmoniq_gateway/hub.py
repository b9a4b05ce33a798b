"""The instance's one window on the event stream, and the fan-out to its sessions.

Each gateway instance reads the durable stream through ONE ordered JetStream consumer whose
filter is exactly the subjects its sessions need (``ev.user.<id>.>`` for each user,
``ev.server.<id>.>`` for each server), so it receives nothing else, in stream order, with
the stream sequence of each event. Each event is decoded once and encoded once per encoding.

A session joins with the stream position it has already seen (READY's, or a RESUME's):

- its subjects are all followed and it is up to date: it takes events live;
- they are followed but it is behind (READY was being built, or a recent RESUME): it is
  replayed what it missed from a buffer of recent deliveries, in order, before anything new;
- a subject is new here (or the buffer does not reach back far enough): the consumer is
  replaced by a new *generation* starting from the oldest point anyone needs. The new one is
  created before the old one goes, so the others never stop receiving; sessions that wait
  for it ignore the old generation (it lacks their subjects, and taking its events would
  skip the replay). Everyone else drops what it already had by sequence.

NATS's cost of creating a consumer grows with the square of its filter subjects, so
replacements are spaced by at least twice the last creation's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind

from harmoniq_common.platform import Platform
from harmoniq_common.telemetry import extract_trace_context, tracer

from .metrics import CATCH_UPS, CONSUMER_REPLACEMENTS, DISPATCH_LAG, EVENTS
from .session import CATCH_UP, Session

__all__ = ["CatchUp", "Delivery", "Hub"]

log = structlog.get_logger(__name__)


class Delivery(msgspec.Struct, frozen=True):
    stream_seq: int
    subject: str
    data: bytes
    generation: int = 0  # of the consumer it came from; CATCH_UP when replayed from memory
    # Handled here before (a new consumer generation starts behind the old one): it goes to
    # the sessions still waiting for it, and changes nothing else a second time.
    repeat: bool = False
    # The publisher's trace context (traceparent, tracestate), when it sent one.
    trace_headers: dict[str, str] | None = None
    # When the stream stored it (Unix seconds; 0: unknown): the dispatch lag starts there.
    published: float = 0.0


def _trace_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    if not headers or "traceparent" not in headers:
        return None
    return {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}


class CatchUp(msgspec.Struct, frozen=True):
    """In the inbox, ordered with deliveries: replay to ``session`` what followed ``since``."""

    session: Session
    since: int


class Hub:
    def __init__(
        self,
        platform: Platform,
        handler: Callable[[Delivery, Session | None], Awaitable[None]],
        ephemeral_handler: Callable[[str, bytes], Awaitable[None]],
        *,
        debounce_seconds: float,
        replay_buffer: int = 10_000,
    ) -> None:
        self._platform = platform
        self._handler = handler
        self._debounce = debounce_seconds
        self._creation_seconds = 0.0  # the last consumer creation's cost
        self._generation = 0  # of the newest consumer
        self._next_generation = 1
        # Subjects the newest consumer follows -> the first stream sequence it covers them from.
        self._active: dict[str, int] = {}
        # Recent deliveries by stream sequence, for catch-ups; sequences up to _recent_from
        # may be missing from it.
        self._recent: dict[int, Delivery] = {}
        self._recent_limit = replay_buffer
        self._recent_from = 0
        self.consumer_creations = 0
        self.catch_ups = 0
        self.by_user: dict[int, set[Session]] = defaultdict(set)
        self.by_server: dict[int, set[Session]] = defaultdict(set)
        self._subjects: set[str] = set()
        self._processed = 0  # the last stream sequence handled
        self._restart_from: int | None = None
        self._changed = asyncio.Event()
        self._quiet = asyncio.Event()  # no consumer replacement pending or under way
        self._quiet.set()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._processor: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Delivery | CatchUp | None] = asyncio.Queue()
        self._stopping = False
        self._lock = asyncio.Lock()
        self._ephemeral: dict[int, Subscription] = {}
        self._pending: set[asyncio.Future[None]] = set()
        self._ephemeral_handler = ephemeral_handler

    # -- interest ---------------------------------------------------------------------------

    def _user_subject(self, user_id: int) -> str:
        return self._platform.subjects.user_events(user_id)

    def _server_subject(self, server_id: int) -> str:
        return self._platform.subjects.server_events(server_id)

    def _restart(self, since: int) -> None:
        start = since + 1
        self._restart_from = start if self._restart_from is None else min(self._restart_from, start)
        self._quiet.clear()
        self._changed.set()

    def watch_user(self, session: Session) -> None:
        self.by_user[session.user_id].add(session)
        self._subjects.add(self._user_subject(session.user_id))

    def watch_server(self, session: Session, server_id: int) -> None:
        """Add the server's subjects to the session's; :meth:`attach` then starts delivery."""
        if server_id not in self.by_server:
            self._ephemeral_watch(server_id)
        self.by_server[server_id].add(session)
        self._subjects.add(self._server_subject(server_id))

    def _subjects_of(self, session: Session) -> list[str]:
        return [self._user_subject(session.user_id)] + [
            self._server_subject(server_id) for server_id in session.servers
        ]

    def attach(self, session: Session, since: int) -> None:
        """Deliver the session's subjects' events after stream sequence ``since``, exactly
        once and in order: live, by a catch-up from memory, or from a new consumer."""
        subjects = self._subjects_of(session)
        if all(subject in self._active for subject in subjects):
            if since >= self._processed:
                session.hold_until = max(session.hold_until, self._generation)
                return
            covered = all(self._active[subject] <= since + 1 for subject in subjects)
            if covered and since >= self._recent_from:
                session.hold_until = CATCH_UP
                self._inbox.put_nowait(CatchUp(session, since))
                return
        session.hold_until = self._next_generation
        self._restart(since)

    def unwatch_server(self, session: Session, server_id: int) -> None:
        session.servers.pop(server_id, None)
        members = self.by_server.get(server_id)
        if members is not None:
            members.discard(session)
            if not members:
                del self.by_server[server_id]
                self._subjects.discard(self._server_subject(server_id))
                self._ephemeral_unwatch(server_id)

    # -- ephemeral events (typing, presence): core NATS, live only ---------------------------

    def _ephemeral_watch(self, server_id: int) -> None:
        subject = self._platform.subjects.ephemeral("server", server_id, ">")

        async def subscribe() -> None:
            subscription = await self._platform.nats.subscribe(subject, cb=self._on_ephemeral)
            if server_id in self.by_server and server_id not in self._ephemeral:
                self._ephemeral[server_id] = subscription
            else:  # gone again meanwhile
                await subscription.unsubscribe()

        self._pending.add(asyncio.ensure_future(subscribe()))
        self._pending = {t for t in self._pending if not t.done()}

    def _ephemeral_unwatch(self, server_id: int) -> None:
        subscription = self._ephemeral.pop(server_id, None)
        if subscription is not None:
            self._pending.add(asyncio.ensure_future(subscription.unsubscribe()))

    async def _on_ephemeral(self, message: Msg) -> None:
        try:
            await self._ephemeral_handler(message.subject, message.data)
        except Exception:
            log.exception("gateway.ephemeral_failed", subject=message.subject)

    def forget(self, session: Session) -> None:
        for server_id in list(session.servers):
            self.unwatch_server(session, server_id)
        sessions = self.by_user.get(session.user_id)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self.by_user[session.user_id]
                self._subjects.discard(self._user_subject(session.user_id))
        # The consumer keeps the extra subjects until the next change; their events find no
        # session and are dropped, which is cheaper than replacing it at every disconnect.

    async def quiet(self) -> None:
        """Wait until every session is served by the newest consumer and no replacement is
        pending (tests and benchmarks: an event published now is delivered exactly once)."""
        await self._quiet.wait()

    async def settle(self) -> None:
        """Wait until new ephemeral subscriptions are in place on the NATS server."""
        pending = [t for t in self._pending if not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self._platform.nats.flush()

    @property
    def backlog(self) -> int:
        """Events received and not yet dispatched: how far delivery is behind the stream."""
        return self._inbox.qsize()

    @property
    def processed(self) -> int:
        return self._processed

    # -- the consumer -----------------------------------------------------------------------

    async def start(self) -> None:
        info = await self._platform.js.stream_info(self._platform.subjects.events_stream)
        self._processed = info.state.last_seq
        self._recent_from = self._processed
        self._platform.nats_reconnected.append(self._after_reconnect)
        self._task = asyncio.create_task(self._maintain(), name="gateway-hub")
        self._processor = asyncio.create_task(self._process(), name="gateway-hub-processor")

    async def _after_reconnect(self) -> None:
        """A restarted NATS server forgot our ordered consumer, and nats-py does not notice
        (no message, no heartbeat, no sequence gap to see): make a new one from where we are.
        What the old one also delivered is dropped by sequence, as after any replacement."""
        log.warning("gateway.consumer_renewed_after_reconnect", since=self._processed)
        self._restart(self._processed)

    async def stop(self) -> None:
        """By flag and wake-up, not ``Task.cancel()`` (a cancel can be swallowed inside a
        NATS or Redis call, and the task would never end)."""
        self._stopping = True
        self._changed.set()
        self._inbox.put_nowait(None)
        for task in (self._task, self._processor):
            if task is not None:
                await task
        await self._unsubscribe()
        for subscription in self._ephemeral.values():
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._ephemeral.clear()

    async def current_position(self) -> int:
        """The stream's last sequence now: what a new session has already "seen" via READY."""
        info = await self._platform.js.stream_info(self._platform.subjects.events_stream)
        return max(int(info.state.last_seq), self._processed)

    async def _unsubscribe(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None

    async def _maintain(self) -> None:
        while True:
            await self._changed.wait()
            if self._stopping:
                return
            # Gather the changes of a burst of sessions, and keep NATS's share of time spent
            # creating consumers bounded however many subjects there are.
            await asyncio.sleep(max(self._debounce, 2 * self._creation_seconds))
            self._changed.clear()
            async with self._lock:
                await self._replace_consumer()
            if not self._changed.is_set():
                self._quiet.set()

    async def _replace_consumer(self) -> None:
        start = min(self._restart_from or self._processed + 1, self._processed + 1)
        self._restart_from = None
        subjects = sorted(self._subjects)
        generation = self._next_generation
        self._next_generation += 1
        if not subjects:
            await self._unsubscribe()
            self._active = {}
            return
        began = time.monotonic()
        try:
            subscription = await self._platform.js.subscribe(
                "",
                stream=self._platform.subjects.events_stream,
                cb=functools.partial(self._on_message, generation),
                ordered_consumer=True,
                config=ConsumerConfig(
                    filter_subjects=subjects,
                    deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                    opt_start_seq=max(start, 1),
                ),
            )
        except Exception:
            log.exception("gateway.consumer_failed")
            self._restart(start - 1)
            return
        self._creation_seconds = time.monotonic() - began
        self.consumer_creations += 1
        CONSUMER_REPLACEMENTS.inc()
        await self._unsubscribe()  # only now: the others never stop receiving
        self._subscription = subscription
        self._generation = generation
        self._active = {subject: self._active.get(subject, start) for subject in subjects}
        log.debug(
            "gateway.consumer_replaced",
            subjects=len(subjects),
            seconds=round(self._creation_seconds, 3),
        )

    async def _on_message(self, generation: int, message: Msg) -> None:
        # Handled by the processor task, not here: replacing the consumer cancels this
        # callback's task, which must never cut a delivery in half.
        self._inbox.put_nowait(
            Delivery(
                message.metadata.sequence.stream,
                message.subject,
                message.data,
                generation,
                trace_headers=_trace_headers(message.headers),
                published=message.metadata.timestamp.timestamp(),
            )
        )

    async def _process(self) -> None:
        while True:
            item = await self._inbox.get()
            if item is None:
                return
            if isinstance(item, CatchUp):
                await self._catch_up(item)
                continue
            if item.stream_seq <= self._recent_from or item.stream_seq in self._recent:
                item = msgspec.structs.replace(item, repeat=True)
            else:
                EVENTS.inc()
                if item.published:
                    DISPATCH_LAG.observe(max(0.0, time.time() - item.published))
            try:
                # One span per event, never per frame (each frame would cost more than it says).
                with tracer().start_as_current_span(
                    "gateway dispatch",
                    context=extract_trace_context(item.trace_headers),
                    kind=SpanKind.CONSUMER,
                    attributes={"messaging.destination.name": item.subject},
                ):
                    await self._handler(item, None)
            except Exception:
                log.exception("gateway.dispatch_failed", subject=item.subject, seq=item.stream_seq)
            self._remember(item)
            self._processed = max(self._processed, item.stream_seq)

    def _remember(self, delivery: Delivery) -> None:
        if delivery.stream_seq in self._recent:
            return
        self._recent[delivery.stream_seq] = delivery
        while len(self._recent) > self._recent_limit:
            oldest = next(iter(self._recent))
            self._recent_from = max(self._recent_from, self._recent.pop(oldest).stream_seq)

    async def _catch_up(self, catch_up: CatchUp) -> None:
        session = catch_up.session
        self.catch_ups += 1
        CATCH_UPS.inc()
        for seq in sorted(seq for seq in self._recent if seq > catch_up.since):
            # Its subjects as of now: an event replayed here may have added a server.
            subject = self._recent[seq].subject
            subjects = self._platform.subjects
            if subjects.user_of(subject) != session.user_id and (
                subjects.server_of(subject) not in session.servers
            ):
                continue
            replay = msgspec.structs.replace(self._recent[seq], generation=CATCH_UP)
            try:
                await self._handler(replay, session)
            except Exception:
                log.exception("gateway.catch_up_failed", seq=seq)
        if session.hold_until == CATCH_UP:  # not held again meanwhile (a join, say)
            session.hold_until = self._generation
