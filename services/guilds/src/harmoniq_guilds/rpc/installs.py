"""Installs, regrants, uninstalls and lists bots in servers for the bots service (NATS
request/reply; ``harmoniq_common.installations``)."""

from __future__ import annotations

from nats.aio.subscription import Subscription

from harmoniq_common import installations as contract
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.installs import Installs
from ..settings import GuildsSettings

__all__ = ["serve_installs"]


async def serve_installs(platform: Platform, settings: GuildsSettings) -> list[Subscription]:
    installs = Installs(platform, settings)

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
    ]
