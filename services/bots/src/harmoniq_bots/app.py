"""The bots service application: ``uvicorn --factory harmoniq_bots.app:create_app``.

It owns incoming webhooks (and, next, bots installed in servers); it asks guilds about access
and messages to post, over NATS only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from harmoniq_common.access import AccessCache
from harmoniq_common.app import create_service_app
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .domain.execute import Executor
from .domain.installs import Installations
from .domain.outgoing import Deliverer, Outgoing
from .domain.quiet_servers import QuietServers
from .domain.webhooks import Webhooks
from .events.guilds import guild_events_consumer
from .events.outgoing import outgoing_events_consumer
from .events.outgoing_changes import watch_endpoint_changes
from .http.compat import CompatController
from .http.deps import Domain
from .http.installs import ServerBotsController
from .http.outgoing import OutgoingWebhooksController
from .http.webhooks import ServerWebhooksController, WebhooksController, WebhookTokenController
from .settings import BotsSettings

__all__ = ["create_app"]


def _domain(
    settings: BotsSettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        access = AccessCache(platform.redis, platform.nats, platform.subjects)
        webhooks = Webhooks(platform, settings, access)
        quiet = QuietServers(
            ttl=settings.outgoing_no_endpoints_ttl_seconds,
            capacity=settings.outgoing_no_endpoints_max_servers,
        )
        outgoing = Outgoing(platform, settings, access, quiet)
        app.state.bots_domain = Domain(
            webhooks=webhooks,
            executor=Executor(platform, settings),
            installations=Installations(platform, access),
            outgoing=outgoing,
        )
        consumer = guild_events_consumer(platform, webhooks)
        await consumer.start()
        # Before fan-out starts caching: no change may go unheard once an answer is cached.
        changes = await watch_endpoint_changes(platform, quiet)
        events = outgoing_events_consumer(platform, outgoing)
        await events.start()
        deliverer = Deliverer(platform, settings, outgoing)
        await deliverer.start()
        try:
            yield
        finally:
            await events.stop()
            await deliverer.stop()
            await changes.stop()
            await consumer.stop()

    return extend


def create_app(settings: BotsSettings | None = None) -> Litestar:
    settings = settings or load_settings(BotsSettings)
    return create_service_app(
        settings,
        route_handlers=[
            ServerWebhooksController,
            ServerBotsController,
            OutgoingWebhooksController,
            WebhooksController,
            WebhookTokenController,
            CompatController,
        ],
        title="Harmoniq bots",
        extend=_domain(settings),
    )
