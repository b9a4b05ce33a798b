"""Bots installed in servers: the bots service's side.

guilds owns members and roles, so it makes every change (a member with a managed role holding
exactly the grant), checking ``MANAGE_SERVER`` and "no escalation" in the same transaction;
auth owns bot accounts. Here: the caller's bot is checked to be theirs (auth), or a new one is
made for them (auth; its token shown once), and guilds is asked to install, regrant, list or
uninstall (``harmoniq_common.installations``). Nothing is stored in the bots schema: one
truth, in guilds, that a kick or a deleted account keeps right too.
"""

from __future__ import annotations

from dataclasses import dataclass

from harmoniq_common.access import AccessCache
from harmoniq_common.consumers import request
from harmoniq_common.errors import Forbidden
from harmoniq_common.ids import Snowflake
from harmoniq_common.installations import (
    BOT_ACCOUNT_CREATE,
    BOT_ACCOUNT_OWNED,
    BOT_INSTALL,
    BOT_LIST,
    BOT_REGRANT,
    BOT_UNINSTALL,
    BotAccount,
    CreateBotAccount,
    InstallBot,
    InstalledBot,
    InstalledBots,
    ListBots,
    NewBotAccount,
    OwnedBotAccount,
    RegrantBot,
    UninstallBot,
    Uninstalled,
)
from harmoniq_common.permissions import Permission, base_permissions
from harmoniq_common.platform import Platform

__all__ = ["Installations", "Installed"]


@dataclass(frozen=True)
class Installed:
    bot: InstalledBot
    token: str | None = None  # a bot made on the spot: its token, this once


class Installations:
    def __init__(self, platform: Platform, access: AccessCache) -> None:
        self._platform = platform
        self._access = access

    def _guilds(self, name: str) -> str:
        return self._platform.subjects.rpc("guilds", name)

    def _auth(self, name: str) -> str:
        return self._platform.subjects.rpc("auth", name)

    async def _may_install(self, user_id: int, server_id: int, permissions: int) -> None:
        """Before a bot account is made for an installation that would be refused (guilds
        checks again, in its transaction: this only spares the caller a useless bot)."""
        access = await self._access.server(user_id, server_id)
        held = base_permissions(
            is_owner=access.is_owner,
            default_role=access.default_role,
            member_roles=access.member_roles,
        )
        if not held & Permission.MANAGE_SERVER:
            raise Forbidden("missing permission MANAGE_SERVER", code="missing_permission")
        if not access.is_owner and permissions & ~held:
            raise Forbidden(
                "you cannot grant permissions you do not have", code="permission_escalation"
            )

    async def install(
        self,
        user_id: int,
        server_id: int,
        permissions: int,
        *,
        bot_id: int | None,
        username: str | None,
        reason: str | None,
    ) -> Installed:
        nats = self._platform.nats
        token = None
        if bot_id is not None:
            account = await request(
                nats,
                self._auth(BOT_ACCOUNT_OWNED),
                OwnedBotAccount(owner_id=Snowflake(user_id), bot_id=Snowflake(bot_id)),
                BotAccount,
            )
        else:
            assert username is not None
            await self._may_install(user_id, server_id, permissions)
            made = await request(
                nats,
                self._auth(BOT_ACCOUNT_CREATE),
                CreateBotAccount(owner_id=Snowflake(user_id), username=username),
                NewBotAccount,
            )
            account, token = BotAccount(id=made.id, username=made.username), made.token
        installed = await request(
            nats,
            self._guilds(BOT_INSTALL),
            InstallBot(
                server_id=Snowflake(server_id),
                actor_id=Snowflake(user_id),
                bot_id=account.id,
                username=account.username,
                permissions=permissions,
                reason=reason,
            ),
            InstalledBot,
        )
        return Installed(installed, token)

    async def list_all(self, user_id: int, server_id: int) -> list[InstalledBot]:
        answer = await request(
            self._platform.nats,
            self._guilds(BOT_LIST),
            ListBots(server_id=Snowflake(server_id), actor_id=Snowflake(user_id)),
            InstalledBots,
        )
        return answer.bots

    async def regrant(
        self, user_id: int, server_id: int, bot_id: int, permissions: int, reason: str | None
    ) -> InstalledBot:
        return await request(
            self._platform.nats,
            self._guilds(BOT_REGRANT),
            RegrantBot(
                server_id=Snowflake(server_id),
                actor_id=Snowflake(user_id),
                bot_id=Snowflake(bot_id),
                permissions=permissions,
                reason=reason,
            ),
            InstalledBot,
        )

    async def uninstall(
        self, user_id: int, server_id: int, bot_id: int, reason: str | None
    ) -> None:
        await request(
            self._platform.nats,
            self._guilds(BOT_UNINSTALL),
            UninstallBot(
                server_id=Snowflake(server_id),
                actor_id=Snowflake(user_id),
                bot_id=Snowflake(bot_id),
                reason=reason,
            ),
            Uninstalled,
        )
