"""The guilds service application: ``uvicorn --factory harmoniq_guilds.app:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import structlog
from litestar import Litestar

from harmoniq_common.app import create_service_app
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .domain import audit
from .domain.channels import Channels
from .domain.direct import DirectMessages
from .domain.invites import Invites
from .domain.members import Members
from .domain.relationships import Relationships
from .domain.roles import Roles
from .domain.servers import Servers
from .events.direct import dm_activity_consumer
from .events.users import user_events_consumer
from .http.audit import AuditLogController
from .http.bans import BansController
from .http.channels import ChannelsController, ServerChannelsController
from .http.deps import Guilds
from .http.direct import DmChannelsController, DmPrivacyController
from .http.invites import ChannelInvitesController, InvitesController, ServerInvitesController
from .http.members import MembersController
from .http.relationships import RelationshipsController
from .http.roles import RolesController
from .http.servers import ServersController
from .rpc.access import serve_access
from .rpc.direct import serve_blocks, serve_direct
from .rpc.installs import serve_installs
from .rpc.snapshots import serve_snapshots
from .settings import GuildsSettings

__all__ = ["create_app"]

log = structlog.get_logger(__name__)


def _domain(
    settings: GuildsSettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        servers = Servers(platform, settings)
        app.state.guilds = Guilds(
            servers=servers,
            channels=Channels(platform, settings),
            roles=Roles(platform, settings),
            members=Members(platform),
            invites=Invites(platform, settings),
            direct=DirectMessages(platform),
            relationships=Relationships(platform),
        )
        consumer = user_events_consumer(platform, servers)
        await consumer.start()
        activity = dm_activity_consumer(platform)
        await activity.start()
        rpc_subscriptions = [
            *await serve_access(platform),
            await serve_snapshots(platform),
            await serve_direct(platform),
            *await serve_installs(platform, settings),
            await serve_blocks(platform),
        ]
        purger = asyncio.create_task(_purge_audit_log(platform, settings))
        try:
            yield
        finally:
            for subscription in rpc_subscriptions:
                await subscription.unsubscribe()
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await activity.stop()
            await consumer.stop()

    return extend


async def _purge_audit_log(platform: Platform, settings: GuildsSettings) -> None:
    while True:
        try:
            removed = await audit.purge_expired(platform.pool, settings.audit_log_retention_days)
            if removed:
                log.info("audit_log.purged", count=removed)
        except Exception:
            log.warning("audit_log.purge_failed", exc_info=True)
        await asyncio.sleep(settings.audit_purge_interval_seconds)


def create_app(settings: GuildsSettings | None = None) -> Litestar:
    settings = settings or load_settings(GuildsSettings)
    return create_service_app(
        settings,
        route_handlers=[
            ServersController,
            MembersController,
            BansController,
            RolesController,
            ServerChannelsController,
            ChannelsController,
            InvitesController,
            ChannelInvitesController,
            ServerInvitesController,
            AuditLogController,
            DmChannelsController,
            DmPrivacyController,
            RelationshipsController,
        ],
        title="Harmoniq guilds",
        extend=_domain(settings),
    )
