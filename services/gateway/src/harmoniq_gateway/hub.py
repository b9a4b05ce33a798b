"""The instance's one window on the event stream, and the fan-out to its sessions.

Each gateway instance reads the durable stream through ONE ordered JetStream consumer whose
filter is exactly the subjects its sessions need (``ev.user.<id>.>`` for each user,
``ev.server.<id>.>`` for each server), so it receives nothing else, in stream order, with
the stream sequence of each event. When sessions bring new subjects, the consumer is replaced
(changes gathered for a few ms) starting from the oldest point a new session needs, and each
session drops what it already had: every session sees its events once, in order, whatever
instance it is on. Each event is decoded once and encoded once per encoding.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable

import msgspec
import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy

from harmoniq_common.platform import Platform

from .session import Session

__all__ = ["Delivery", "Hub"]

log = structlog.get_logger(__name__)


class Delivery(msgspec.Struct, frozen=True):
    stream_seq: int
    subject: str
    data: bytes


class Hub:
    def __init__(
        self,
        platform: Platform,
        handler: Callable[[Delivery], Awaitable[None]],
        *,
        debounce_seconds: float,
    ) -> None:
        self._platform = platform
        self._handler = handler
        self._debounce = debounce_seconds
        self.by_user: dict[int, set[Session]] = defaultdict(set)
        self.by_server: dict[int, set[Session]] = defaultdict(set)
        self._subjects: set[str] = set()
        self._processed = 0  # the last stream sequence handled
        self._restart_from: int | None = None
        self._changed = asyncio.Event()
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._processor: asyncio.Task[None] | None = None
        self._inbox: asyncio.Queue[Delivery | None] = asyncio.Queue()
        self._stopping = False
        self._lock = asyncio.Lock()
        self._ephemeral: dict[int, Subscription] = {}
        self._pending: set[asyncio.Future[None]] = set()
        self.ephemeral_handler: Callable[[str, bytes], Awaitable[None]] | None = None

    # -- interest ---------------------------------------------------------------------------

    def _user_subject(self, user_id: int) -> str:
        return f"{self._platform.subjects.namespace}.ev.user.{user_id}.>"

    def _server_subject(self, server_id: int) -> str:
        return f"{self._platform.subjects.namespace}.ev.server.{server_id}.>"

    def _want(self, subject: str, since: int) -> None:
        if subject not in self._subjects:
            self._subjects.add(subject)
            self._restart(since)

    def _restart(self, since: int) -> None:
        start = since + 1
        self._restart_from = start if self._restart_from is None else min(self._restart_from, start)
        self._changed.set()

    def watch_user(self, session: Session) -> None:
        self.by_user[session.user_id].add(session)
        self._want(self._user_subject(session.user_id), session.last_durable)

    def watch_server(self, session: Session, server_id: int, since: int) -> None:
        """Deliver this server's events to the session from stream sequence ``since`` on
        (``since`` is never older than what the session already has: sequences only grow)."""
        if server_id not in self.by_server:
            self._ephemeral_watch(server_id)
        self.by_server[server_id].add(session)
        self._want(self._server_subject(server_id), since)

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
        if self.ephemeral_handler is None:
            return
        try:
            await self.ephemeral_handler(message.subject, message.data)
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

    async def settle(self) -> None:
        """Wait until new ephemeral subscriptions are in place on the NATS server."""
        pending = [t for t in self._pending if not t.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self._platform.nats.flush()

    @property
    def processed(self) -> int:
        return self._processed

    # -- the consumer -----------------------------------------------------------------------

    async def start(self) -> None:
        info = await self._platform.js.stream_info(self._platform.subjects.events_stream)
        self._processed = info.state.last_seq
        self._task = asyncio.create_task(self._maintain(), name="gateway-hub")
        self._processor = asyncio.create_task(self._process(), name="gateway-hub-processor")

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
            await asyncio.sleep(self._debounce)  # gather the changes of a burst of sessions
            self._changed.clear()
            async with self._lock:
                start = min(self._restart_from or self._processed + 1, self._processed + 1)
                self._restart_from = None
                await self._unsubscribe()
                if not self._subjects:
                    continue
                try:
                    self._subscription = await self._platform.js.subscribe(
                        "",
                        stream=self._platform.subjects.events_stream,
                        cb=self._on_message,
                        ordered_consumer=True,
                        config=ConsumerConfig(
                            filter_subjects=sorted(self._subjects),
                            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                            opt_start_seq=max(start, 1),
                        ),
                    )
                except Exception:
                    log.exception("gateway.consumer_failed")
                    self._restart(start - 1)

    async def _on_message(self, message: Msg) -> None:
        # Handled by the processor task, not here: replacing the consumer cancels this
        # callback's task, which must never cut a delivery in half.
        self._inbox.put_nowait(
            Delivery(message.metadata.sequence.stream, message.subject, message.data)
        )

    async def _process(self) -> None:
        while True:
            delivery = await self._inbox.get()
            if delivery is None:
                return
            try:
                await self._handler(delivery)
            except Exception:
                log.exception(
                    "gateway.dispatch_failed", subject=delivery.subject, seq=delivery.stream_seq
                )
            self._processed = max(self._processed, delivery.stream_seq)
