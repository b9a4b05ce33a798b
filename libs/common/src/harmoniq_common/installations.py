"""Bots installed in servers: what bots, guilds and auth say to each other about them.

The bots service answers ``/api/v1/servers/{id}/bots``; guilds owns members and roles, so it
adds the bot as a member with a *managed* role (one per installed bot, holding exactly the
granted permissions, refused by guilds' role routes) and changes or removes it, asked over
NATS request/reply. auth owns bot accounts: bots asks it whether a bot is the caller's, or
to create one on the spot. guilds checks ``MANAGE_SERVER`` and "no escalation" itself, in
the transaction that makes the change; the callers are trusted internal services.

A bot member's permissions are those of its managed role *only*: everything else it might get
(the default role, channel overwrites) is cut down to the grant (:func:`within_grant`), so a
bot can never do more than it was granted, in any channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from .ids import Snowflake
from .permissions import Permission
from .validation import anchored

__all__ = [
    "AUDIT_APPEND",
    "BOT_ACCOUNT_CREATE",
    "BOT_ACCOUNT_OWNED",
    "BOT_INSTALL",
    "BOT_LIST",
    "BOT_REGRANT",
    "BOT_UNINSTALL",
    "AuditAppend",
    "AuditAppended",
    "BotAccount",
    "BotUsername",
    "CreateBotAccount",
    "InstallBot",
    "InstalledBot",
    "InstalledBots",
    "ListBots",
    "NewBotAccount",
    "OwnedBotAccount",
    "RegrantBot",
    "UninstallBot",
    "Uninstalled",
    "within_grant",
]

# guilds' RPCs (``subjects.rpc("guilds", …)``)
BOT_INSTALL = "bot_install"
BOT_REGRANT = "bot_regrant"
BOT_UNINSTALL = "bot_uninstall"
BOT_LIST = "bot_list"
AUDIT_APPEND = "audit_append"  # an entry in a server's audit log, by the bots service
# auth's RPCs (``subjects.rpc("auth", …)``)
BOT_ACCOUNT_OWNED = "bot_account_owned"
BOT_ACCOUNT_CREATE = "bot_account_create"

Reason = Annotated[str, msgspec.Meta(max_length=512)]
# auth's rule for usernames (a new bot account's name is checked before auth is asked)
BotUsername = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=32,
        pattern=anchored(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,30}[A-Za-z0-9_])?"),
        description="2-32 characters: letters, digits, '_', '.', '-'",
    ),
]


def within_grant(permissions: int, grant: int | None) -> int:
    """A member's computed permissions, cut down to a bot's grant (``None``: not a bot). A
    grant holding ``ADMINISTRATOR`` is all permissions, as for a role."""
    if grant is None or grant & Permission.ADMINISTRATOR:
        return permissions
    return permissions & grant


class InstallBot(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    actor_id: Snowflake  # the installer: needs MANAGE_SERVER and every granted bit
    bot_id: Snowflake
    username: str  # the managed role's name
    permissions: int
    reason: Reason | None = None


class RegrantBot(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    actor_id: Snowflake
    bot_id: Snowflake
    permissions: int
    reason: Reason | None = None


class UninstallBot(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    actor_id: Snowflake
    bot_id: Snowflake
    reason: Reason | None = None


class ListBots(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    actor_id: Snowflake


class InstalledBot(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    bot_id: Snowflake
    username: str
    role_id: Snowflake  # its managed role
    permissions: int  # the grant
    joined_at: datetime


class InstalledBots(msgspec.Struct, frozen=True, kw_only=True):
    bots: list[InstalledBot]


class Uninstalled(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    bot_id: Snowflake


class OwnedBotAccount(msgspec.Struct, frozen=True, kw_only=True):
    """Is ``bot_id`` a live bot of ``owner_id``? ``404 unknown_bot`` if not (or not a bot)."""

    owner_id: Snowflake
    bot_id: Snowflake


class CreateBotAccount(msgspec.Struct, frozen=True, kw_only=True):
    owner_id: Snowflake
    username: BotUsername


class BotAccount(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    username: str


class NewBotAccount(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    username: str
    token: str  # shown once, to the installer


class AuditAppend(msgspec.Struct, frozen=True, kw_only=True):
    """bots → guilds: record what bots did in a server (guilds owns the audit log), e.g. an
    outgoing webhook created, or disabled after repeated failures (actor: whoever made it)."""

    server_id: Snowflake
    actor_id: Snowflake
    action: Annotated[str, msgspec.Meta(pattern=r"^outgoing_webhook\.[a-z_]+$")]
    target_id: Snowflake | None = None
    reason: Reason | None = None
    changes: dict[str, Any] = {}


class AuditAppended(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
