"""Outgoing webhooks: a server's managers register an endpoint URL and the event types it
receives; each matching event is POSTed there as JSON, signed (``harmoniq_common.signatures``).

Who manages them: ``MANAGE_WEBHOOKS`` in the server (as its role permissions give it). Whose
view deliveries respect: an installed bot's named at registration (``bot_id``), else the
creator's; an event of a channel that viewer cannot see (now, at fan-out) is not delivered,
and nothing is delivered once the viewer has left the server.

Fan-out (:meth:`Outgoing.fan_out`) runs in the durable consumer: each (endpoint, event) is one
delivery row (unique), so a redelivered event queues nothing twice. Sending
(:class:`Deliverer`) claims due rows with ``FOR UPDATE SKIP LOCKED`` (instances share the
work), resolves and checks the target (:mod:`.targets`), and retries a failure after
``base * 2**(attempt-1)`` seconds; a delivery out of tries is given up, and an endpoint whose
deliveries are given up ``outgoing_disable_after_failures`` times in a row is disabled, with an
audit log entry (guilds owns the log) and until a manager re-enables it.

Most servers have no endpoint: fan-out answers them from :class:`.quiet_servers.QuietServers`
without a query. So every change to an endpoint ends with :meth:`Outgoing.endpoints_changed`
after its commit (forget here at once, tell the other instances over NATS).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import structlog
from prometheus_client import Counter

from harmoniq_common.access import AccessCache
from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError, BadRequest, Conflict, Forbidden, NotFound
from harmoniq_common.events import Envelope
from harmoniq_common.ids import Snowflake
from harmoniq_common.installations import AUDIT_APPEND, AuditAppend, AuditAppended
from harmoniq_common.permissions import Permission, base_permissions
from harmoniq_common.platform import Platform
from harmoniq_common.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

from ..settings import BotsSettings
from ..store import outgoing as store
from ..store.outgoing import DeliveryRow, EndpointRow
from .quiet_servers import QuietServers, changed_subject
from .targets import TargetRefused, resolve

__all__ = ["ENDPOINT_LOOKUPS", "Deliverer", "Outgoing", "channel_of"]

log = structlog.get_logger(__name__)

# Where fan-out learnt a server's endpoints: "cache" (known to have none: no query) or
# "database". cache / (cache + database) is the share of events that cost no query.
ENDPOINT_LOOKUPS = Counter(
    "harmoniq_bots_outgoing_endpoint_lookups_total",
    "Outgoing webhooks' fan-out lookups of a server's endpoints",
    ["source"],
)
# A notification that does not reach the NATS server within this is left to the cache's TTL.
_ANNOUNCE_TIMEOUT_SECONDS = 2  # an int: nats-py types flush(timeout) so


def unknown_endpoint() -> NotFound:
    return NotFound("unknown outgoing webhook", code="unknown_outgoing_webhook")


def channel_of(data: dict[str, Any]) -> int | None:
    """The channel an event is about, if any: its ``channel_id``, its message's, or the
    channel it describes."""
    message, channel = data.get("message"), data.get("channel")
    candidates = [
        data.get("channel_id"),
        message.get("channel_id") if isinstance(message, dict) else None,
        channel.get("id") if isinstance(channel, dict) else None,
    ]
    return next((int(c) for c in candidates if c is not None), None)


class Outgoing:
    def __init__(
        self,
        platform: Platform,
        settings: BotsSettings,
        access: AccessCache,
        quiet: QuietServers,
    ) -> None:
        self._platform = platform
        self._settings = settings
        self._access = access
        self.quiet = quiet  # servers known to have no enabled endpoint (fan-out skips them)
        self.wake = asyncio.Event()  # a delivery was queued: the deliverer looks now

    async def endpoints_changed(self, server_id: int) -> None:
        """Call after committing any change to an endpoint of this server: this instance
        forgets it at once, the others when the notification reaches them. Flushed before
        returning, so the answer to the change leaves after the NATS server has it; a
        notification that cannot go is logged and left to the cache's TTL (the change is
        committed either way)."""
        self.quiet.forget(server_id)
        nats = self._platform.nats
        try:
            await nats.publish(changed_subject(self._platform.subjects, server_id), b"")
            await nats.flush(timeout=_ANNOUNCE_TIMEOUT_SECONDS)
        except Exception:
            log.warning("outgoing.change_not_announced", server_id=server_id, exc_info=True)

    async def _require_manager(self, user_id: int, server_id: int) -> None:
        access = await self._access.server(user_id, server_id)
        held = base_permissions(
            is_owner=access.is_owner,
            default_role=access.default_role,
            member_roles=access.member_roles,
        )
        if not held & Permission.MANAGE_WEBHOOKS:
            raise Forbidden("missing permission MANAGE_WEBHOOKS", code="missing_permission")

    async def _check_url(self, url: str) -> None:
        """Refused now if it would be refused when sent (checked again then: DNS changes)."""
        try:
            await resolve(url, allow_private=self._settings.outgoing_allow_private_targets)
        except TargetRefused as exc:
            raise BadRequest.for_field("url", str(exc), code="url_refused") from exc

    async def create(
        self,
        user_id: int,
        server_id: int,
        url: str,
        event_types: list[str],
        bot_id: int | None,
    ) -> EndpointRow:
        await self._require_manager(user_id, server_id)
        await self._check_url(url)
        if bot_id is not None:
            try:  # an installed bot of this server (a member of it)
                await self._access.server(bot_id, server_id)
            except ApiError as exc:
                raise NotFound.for_field(
                    "bot_id", "no such bot in this server", code="unknown_installation"
                ) from exc
        async with self._platform.pool.acquire() as conn, conn.transaction():
            # One server's registrations take turns, so the limit holds under concurrency.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", server_id)
            if len(await store.in_server(conn, server_id)) >= (
                self._settings.max_outgoing_endpoints_per_server
            ):
                raise Conflict(
                    "this server has too many outgoing webhooks", code="too_many_outgoing_webhooks"
                )
            row = await store.insert(
                conn,
                EndpointRow(
                    id=self._platform.new_id(),
                    server_id=Snowflake(server_id),
                    creator_id=Snowflake(user_id),
                    viewer_id=Snowflake(bot_id if bot_id is not None else user_id),
                    url=url,
                    event_types=sorted(set(event_types)),
                    secret=secrets.token_urlsafe(32),
                    enabled=True,
                    failures=0,
                    disabled_at=None,
                    created_at=datetime.now(UTC),
                ),
            )
        await self.endpoints_changed(server_id)
        await self.audit(server_id, user_id, "outgoing_webhook.create", row.id, {"url": url})
        return row

    async def list_all(self, user_id: int, server_id: int) -> list[EndpointRow]:
        await self._require_manager(user_id, server_id)
        async with self._platform.pool.acquire() as conn:
            return await store.in_server(conn, server_id)

    async def _managed(self, user_id: int, server_id: int, endpoint_id: int) -> EndpointRow:
        await self._require_manager(user_id, server_id)
        async with self._platform.pool.acquire() as conn:
            row = await store.get(conn, server_id, endpoint_id)
        if row is None:
            raise unknown_endpoint()
        return row

    async def edit(
        self,
        user_id: int,
        server_id: int,
        endpoint_id: int,
        *,
        url: str | None,
        event_types: list[str] | None,
        enabled: bool | None,
    ) -> EndpointRow:
        await self._managed(user_id, server_id, endpoint_id)
        if url is not None:
            await self._check_url(url)
        async with self._platform.pool.acquire() as conn:
            row = await store.update(
                conn,
                endpoint_id,
                url=url,
                event_types=None if event_types is None else sorted(set(event_types)),
                enabled=enabled,
            )
        await self.endpoints_changed(server_id)
        self.wake.set()  # re-enabled: its waiting deliveries go
        return row

    async def delete(self, user_id: int, server_id: int, endpoint_id: int) -> None:
        await self._managed(user_id, server_id, endpoint_id)
        async with self._platform.pool.acquire() as conn:
            if not await store.delete(conn, endpoint_id):
                raise unknown_endpoint()
        await self.endpoints_changed(server_id)
        await self.audit(server_id, user_id, "outgoing_webhook.delete", endpoint_id, {})

    async def deliveries(
        self, user_id: int, server_id: int, endpoint_id: int, before: int, limit: int
    ) -> list[DeliveryRow]:
        await self._managed(user_id, server_id, endpoint_id)
        async with self._platform.pool.acquire() as conn:
            return await store.deliveries(conn, endpoint_id, before, limit)

    async def audit(
        self, server_id: int, actor_id: int, action: str, target_id: int, changes: dict[str, Any]
    ) -> None:
        try:
            await request(
                self._platform.nats,
                self._platform.subjects.rpc("guilds", AUDIT_APPEND),
                AuditAppend(
                    server_id=Snowflake(server_id),
                    actor_id=Snowflake(actor_id),
                    action=action,
                    target_id=Snowflake(target_id),
                    changes=changes,
                ),
                AuditAppended,
            )
        except ApiError:  # the server is gone, or guilds cannot answer: logged, not fatal
            log.warning("outgoing.audit_failed", server_id=server_id, action=action, exc_info=True)

    # -- fan-out (the durable consumer) ------------------------------------------------------

    async def _may_see(self, viewer_id: int, server_id: int, channel_id: int | None) -> bool:
        try:
            if channel_id is None:
                await self._access.server(viewer_id, server_id)
                return True
            channel = await self._access.channel(viewer_id, channel_id)
        except ApiError as exc:
            if exc.status_code == 404:
                return False
            raise
        return channel.allows(Permission.VIEW_CHANNEL)

    async def fan_out(self, server_id: int, envelope: Envelope) -> int:
        """Queue one delivery per endpoint of the server that takes this event and whose
        viewer may see it; how many were queued (0 for a redelivered event)."""
        if self.quiet.is_quiet(server_id):
            ENDPOINT_LOOKUPS.labels("cache").inc()
            return 0
        ENDPOINT_LOOKUPS.labels("database").inc()
        generation = self.quiet.generation  # read before the query: see QuietServers.remember
        async with self._platform.pool.acquire() as conn:
            enabled = await store.enabled_in(conn, server_id)
        if not enabled:
            self.quiet.remember(server_id, generation)
            return 0
        endpoints = [e for e in enabled if envelope.type in e.event_types]
        if not endpoints:
            return 0
        data = msgspec.json.decode(envelope.data)
        channel_id = channel_of(data) if isinstance(data, dict) else None
        body = msgspec.json.encode(
            {
                "id": str(envelope.id),
                "type": envelope.type,
                "server_id": str(server_id),
                "occurred_at": envelope.occurred_at,
                "data": envelope.data,
            }
        )
        queued = 0
        for endpoint in endpoints:
            if not await self._may_see(endpoint.viewer_id, server_id, channel_id):
                continue
            async with self._platform.pool.acquire() as conn:
                queued += await store.insert_delivery(
                    conn, self._platform.new_id(), endpoint.id, envelope.id, envelope.type, body
                )
        if queued:
            self.wake.set()
        return queued


class Deliverer:
    """Sends due deliveries, in a task of its own, until stopped."""

    def __init__(self, platform: Platform, settings: BotsSettings, outgoing: Outgoing) -> None:
        self._platform = platform
        self._settings = settings
        self._outgoing = outgoing
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._client = httpx.AsyncClient(
            timeout=settings.outgoing_timeout_seconds, follow_redirects=False
        )

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outgoing-deliverer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.aclose()

    async def _run(self) -> None:
        wake = self._outgoing.wake
        while True:
            wake.clear()  # before looking: a delivery queued meanwhile sets it again
            try:
                sent = await self.deliver_due()
            except Exception:
                log.warning("outgoing.round_failed", exc_info=True)
                sent = 0
            if sent:
                continue
            # Retries come due with time, and other instances queue too: look again soon.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.5)

    async def deliver_due(self, limit: int = 16) -> int:
        disabled_in: set[int] = set()  # servers with an endpoint disabled in this round
        async with self._platform.pool.acquire() as conn, conn.transaction():
            due = await store.claim_due(conn, limit)
            if not due:
                return 0
            results = await asyncio.gather(*(self._send(d) for d in due))
            for record, (status, error) in zip(due, results, strict=True):
                if await self._settle(conn, record, status, error):
                    disabled_in.add(record["server_id"])
        # Committed: now it may be announced. (A disabled endpoint cannot make a cached
        # "no endpoints" wrong; announced all the same, so that every change to an endpoint
        # is, and no cache of this service ever has to know which changes matter.)
        for server_id in sorted(disabled_in):
            await self._outgoing.endpoints_changed(server_id)
        return len(due)

    async def _send(self, delivery: Any) -> tuple[int | None, str | None]:
        """The receiver's status and, for a failure, why."""
        try:
            target = await resolve(
                delivery["url"], allow_private=self._settings.outgoing_allow_private_targets
            )
        except TargetRefused as exc:
            return None, str(exc)
        body = bytes(delivery["body"])
        timestamp = int(time.time())
        headers = {
            "Host": target.host,
            "Content-Type": "application/json",
            "User-Agent": "Harmoniq-Webhooks/1",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(delivery["secret"], timestamp, body),
            "X-Harmoniq-Event": delivery["event_type"],
            "X-Harmoniq-Delivery": str(delivery["id"]),
        }
        try:
            response = await self._client.post(
                target.url, content=body, headers=headers, extensions={"sni_hostname": target.host}
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    async def _settle(
        self, conn: Any, delivery: Any, status: int | None, error: str | None
    ) -> bool:
        """Record the outcome; True when it disabled the endpoint."""
        if error is None:
            assert status is not None
            await store.mark_delivered(conn, delivery["id"], status)
            return False
        attempt = delivery["attempts"] + 1
        retry_in = (
            self._settings.outgoing_retry_base_seconds * 2 ** (attempt - 1)
            if attempt < self._settings.outgoing_max_attempts
            else None
        )
        failures = await store.mark_failed(conn, delivery["id"], status, error, retry_in=retry_in)
        limit = self._settings.outgoing_disable_after_failures
        if (
            failures is not None
            and failures >= limit
            and await store.disable(conn, delivery["endpoint_id"])
        ):
            log.warning("outgoing.disabled", endpoint_id=delivery["endpoint_id"])
            task = asyncio.get_running_loop().create_task(self._audit_disabled(delivery, failures))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return True
        return False

    async def _audit_disabled(self, delivery: Any, failures: int) -> None:
        async with self._platform.pool.acquire() as conn:
            row = await store.get(conn, delivery["server_id"], delivery["endpoint_id"])
        if row is not None:
            await self._outgoing.audit(
                row.server_id,
                row.creator_id,
                "outgoing_webhook.disable",
                row.id,
                {"failures": failures, "last_error": "deliveries kept failing"},
            )
