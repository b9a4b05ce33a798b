"""Every bots instance hears "an endpoint of server S changed" (core NATS, published by the
instance that changed it, after the commit) and forgets S in its no-endpoints cache, so the
next event of S is looked up in Postgres. Core NATS, not JetStream: a lost notification costs
at most the cache's TTL (``domain/quiet_servers.py``), and no queue group: every instance
must hear it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from harmoniq_common.platform import Platform

from ..domain.quiet_servers import QuietServers, changed_subject

__all__ = ["EndpointChanges", "watch_endpoint_changes"]

log = structlog.get_logger(__name__)


class EndpointChanges:
    """The subscription, and the reconnection hook that forgets everything (notifications
    published while this instance was disconnected are lost); :meth:`stop` undoes both."""

    def __init__(
        self,
        platform: Platform,
        subscription: Subscription,
        on_reconnect: Callable[[], Awaitable[None]],
    ) -> None:
        self._platform = platform
        self._subscription = subscription
        self._on_reconnect = on_reconnect

    async def stop(self) -> None:
        if self._on_reconnect in self._platform.nats_reconnected:
            self._platform.nats_reconnected.remove(self._on_reconnect)
        await self._subscription.unsubscribe()


async def watch_endpoint_changes(platform: Platform, quiet: QuietServers) -> EndpointChanges:
    async def changed(message: Msg) -> None:
        token = message.subject.rsplit(".", 1)[-1]
        if token.isdigit():
            quiet.forget(int(token))
        else:
            log.warning("outgoing.bad_change_subject", subject=message.subject)

    async def reconnected() -> None:
        quiet.clear()

    subscription = await platform.nats.subscribe(
        changed_subject(platform.subjects, "*"), cb=changed
    )
    platform.nats_reconnected.append(reconnected)
    return EndpointChanges(platform, subscription, reconnected)
