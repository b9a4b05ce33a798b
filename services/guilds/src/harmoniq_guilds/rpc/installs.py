"""Installs, regrants, uninstalls and lists bots in servers for the bots service (NATS
request/reply; ``harmoniq_common.installations``)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import installations as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain import audit
from ..domain.changes import guild_change
from ..domain.installs import Installs
from ..settings import GuildsSettings

__all__ = ["serve_installs"]


async def serve_installs(platform: Platform, settings: GuildsSettings) -> list[Subscription]:
    installs = Installs(platform, settings)

    async def append(ask: contract.AuditAppend) -> contract.AuditAppended:
        async with guild_change(platform) as tx:
            await audit.record(
                tx,
                ask.server_id,
                ask.actor_id,
                ask.action,
                target_id=ask.target_id,
                reason=ask.reason,
                changes=ask.changes,
            )
        return contract.AuditAppended(server_id=ask.server_id)

    def subject(name: str) -> str:
        return platform.subjects.rpc("guilds", name)

    return [
        await serve(
            platform.nats,
            subject(contract.BOT_INSTALL),
            contract.InstallBot,
            installs.install,
            queue="guilds",
        ),
        await serve(
            platform.nats,
            subject(contract.BOT_REGRANT),
            contract.RegrantBot,
            installs.regrant,
            queue="guilds",
        ),
        await serve(
            platform.nats,
            subject(contract.BOT_UNINSTALL),
            contract.UninstallBot,
            installs.uninstall,
            queue="guilds",
        ),
        await serve(
            platform.nats,
            subject(contract.BOT_LIST),
            contract.ListBots,
            installs.list_all,
            queue="guilds",
        ),
        await serve(
            platform.nats,
            subject(contract.AUDIT_APPEND),
            contract.AuditAppend,
            append,
            queue="guilds",
        ),
    ]
