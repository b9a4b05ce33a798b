"""What a message's text says beyond its words: mentions and links.

Mentions use Discord's markup: ``<@user_id>`` (or ``<@!user_id>``), ``<@&role_id>``, and the
words ``@everyone`` / ``@here``. The text is kept as written; what becomes a mention (and so
notifies) depends on the author's permissions: mentioning everyone, @here or a role takes
``MENTION_EVERYONE``; user mentions are always allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harmoniq_common.access import ChannelAccess
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission

__all__ = ["MAX_MENTIONS", "Mentions", "has_link", "parse_mentions"]

MAX_MENTIONS = 50
_USER = re.compile(r"<@!?(\d{1,20})>")
_ROLE = re.compile(r"<@&(\d{1,20})>")
_EVERYONE = re.compile(r"(?<![\w@])@(everyone|here)\b")
_LINK = re.compile(r"https?://[^\s<>]+", re.IGNORECASE)


@dataclass(frozen=True)
class Mentions:
    user_ids: list[Snowflake]
    role_ids: list[Snowflake]
    everyone: bool


def _unique(ids: list[str]) -> list[Snowflake]:
    seen: dict[int, None] = {}
    for raw in ids:
        value = int(raw)
        if 0 < value < 1 << 63:
            seen.setdefault(value, None)
    return [Snowflake(v) for v in list(seen)[:MAX_MENTIONS]]


def parse_mentions(content: str, access: ChannelAccess) -> Mentions:
    may_mention_all = access.allows(Permission.MENTION_EVERYONE)
    server_roles = set(access.role_ids) - {access.server_id}  # the default role is @everyone
    roles = [r for r in _unique(_ROLE.findall(content)) if r in server_roles]
    return Mentions(
        user_ids=_unique(_USER.findall(content)),
        role_ids=roles if may_mention_all else [],
        everyone=may_mention_all and _EVERYONE.search(content) is not None,
    )


def has_link(content: str) -> bool:
    return _LINK.search(content) is not None
