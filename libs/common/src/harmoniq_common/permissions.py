"""The permission bitfield and the one pure function that decides what a member may do.

Computation (Discord's model, which users already understand):

1. The server owner may do everything. Otherwise start from the default role's permissions
   (every member has it) OR-ed with those of each of the member's roles. ``ADMINISTRATOR`` in
   the result means everything, everywhere, and overwrites are skipped.
2. In a channel, apply overwrites in this order: the default role's (deny, then allow), then the
   member's roles' taken together (all their denies, then all their allows), then the member's
   own (deny, then allow). Later steps win over earlier ones.
3. Implicit denies: without ``VIEW_CHANNEL`` nothing at all is allowed in the channel; in a text
   channel without ``SEND_MESSAGES`` the permissions that only make sense when sending
   (mention everyone, attach files, embed links) go too; in a voice channel without ``CONNECT``
   the voice permissions go.

:func:`explain` returns the same result with every step, for admins asking "why can't they
post here?".
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

__all__ = [
    "ALL",
    "DEFAULT_MEMBER",
    "DEFAULT_MODERATOR",
    "Explanation",
    "Overwrite",
    "Permission",
    "RoleGrant",
    "Step",
    "base_permissions",
    "channel_permissions",
    "explain",
]


class Permission(enum.IntFlag):
    VIEW_CHANNEL = 1 << 0
    SEND_MESSAGES = 1 << 1
    MANAGE_MESSAGES = 1 << 2
    ADD_REACTIONS = 1 << 3
    ATTACH_FILES = 1 << 4
    EMBED_LINKS = 1 << 5
    MENTION_EVERYONE = 1 << 6
    READ_MESSAGE_HISTORY = 1 << 7
    MANAGE_CHANNELS = 1 << 8
    MANAGE_ROLES = 1 << 9
    MANAGE_SERVER = 1 << 10
    KICK_MEMBERS = 1 << 11
    BAN_MEMBERS = 1 << 12
    CREATE_INVITES = 1 << 13
    MANAGE_WEBHOOKS = 1 << 14
    CONNECT = 1 << 15
    SPEAK = 1 << 16
    MUTE_MEMBERS = 1 << 17
    DEAFEN_MEMBERS = 1 << 18
    MOVE_MEMBERS = 1 << 19
    CHANGE_NICKNAME = 1 << 20
    MANAGE_NICKNAMES = 1 << 21
    VIEW_AUDIT_LOG = 1 << 22
    ADMINISTRATOR = 1 << 40


ALL = Permission(sum(Permission))

# What a plain member (the default role) may do in a new server.
DEFAULT_MEMBER = (
    Permission.VIEW_CHANNEL
    | Permission.SEND_MESSAGES
    | Permission.ADD_REACTIONS
    | Permission.ATTACH_FILES
    | Permission.EMBED_LINKS
    | Permission.READ_MESSAGE_HISTORY
    | Permission.CREATE_INVITES
    | Permission.CONNECT
    | Permission.SPEAK
    | Permission.CHANGE_NICKNAME
)
DEFAULT_MODERATOR = (
    DEFAULT_MEMBER
    | Permission.MANAGE_MESSAGES
    | Permission.MENTION_EVERYONE
    | Permission.KICK_MEMBERS
    | Permission.BAN_MEMBERS
    | Permission.MUTE_MEMBERS
    | Permission.DEAFEN_MEMBERS
    | Permission.MOVE_MEMBERS
    | Permission.MANAGE_NICKNAMES
    | Permission.VIEW_AUDIT_LOG
)

_NEEDS_SEND = Permission.MENTION_EVERYONE | Permission.ATTACH_FILES | Permission.EMBED_LINKS
_NEEDS_CONNECT = (
    Permission.SPEAK | Permission.MUTE_MEMBERS | Permission.DEAFEN_MEMBERS | Permission.MOVE_MEMBERS
)


class RoleGrant(msgspec.Struct, frozen=True):
    id: int
    permissions: int


class Overwrite(msgspec.Struct, frozen=True):
    """A channel's exception for one role or one member."""

    target_kind: str  # "role" | "member"
    target_id: int
    allow: int = 0
    deny: int = 0


@dataclass(frozen=True)
class Step:
    what: str
    permissions: int
    allow: int = 0
    deny: int = 0


@dataclass
class Explanation:
    permissions: int = 0
    steps: list[Step] = field(default_factory=list)

    def record(self, what: str, permissions: int, allow: int = 0, deny: int = 0) -> int:
        self.permissions = permissions
        self.steps.append(Step(what, permissions, allow, deny))
        return permissions


def _base(
    explanation: Explanation,
    *,
    is_owner: bool,
    default_role: RoleGrant,
    member_roles: Iterable[RoleGrant],
) -> int:
    if is_owner:
        return explanation.record("server owner: every permission", ALL)
    perms = explanation.record("default role", default_role.permissions)
    for role in member_roles:
        if role.id == default_role.id:
            continue
        perms = explanation.record(
            f"role {role.id}", perms | role.permissions, allow=role.permissions
        )
    if perms & Permission.ADMINISTRATOR:
        return explanation.record("administrator: every permission", ALL)
    return perms


def explain(
    *,
    user_id: int,
    is_owner: bool,
    default_role: RoleGrant,
    member_roles: Iterable[RoleGrant],
    overwrites: Iterable[Overwrite] | None = None,
    channel_kind: str | None = None,
) -> Explanation:
    """Every step of the computation; ``overwrites=None`` means server-level permissions."""
    explanation = Explanation()
    roles = list(member_roles)
    perms = _base(explanation, is_owner=is_owner, default_role=default_role, member_roles=roles)
    if overwrites is None or perms == ALL:
        return explanation
    by_target: Mapping[tuple[str, int], Overwrite] = {
        (o.target_kind, o.target_id): o for o in overwrites
    }
    everyone = by_target.get(("role", default_role.id))
    if everyone is not None:
        perms = explanation.record(
            "channel overwrite for the default role",
            (perms & ~everyone.deny) | everyone.allow,
            everyone.allow,
            everyone.deny,
        )
    role_ids = {r.id for r in roles if r.id != default_role.id}
    allow = deny = 0
    for role_id in sorted(role_ids):
        overwrite = by_target.get(("role", role_id))
        if overwrite is not None:
            allow |= overwrite.allow
            deny |= overwrite.deny
    if allow or deny:
        perms = explanation.record(
            "channel overwrites for the member's roles", (perms & ~deny) | allow, allow, deny
        )
    mine = by_target.get(("member", user_id))
    if mine is not None:
        perms = explanation.record(
            "channel overwrite for the member",
            (perms & ~mine.deny) | mine.allow,
            mine.allow,
            mine.deny,
        )
    if not perms & Permission.VIEW_CHANNEL:
        explanation.record("implicit: cannot view the channel, so nothing else", 0)
        return explanation
    if channel_kind == "text" and not perms & Permission.SEND_MESSAGES and perms & _NEEDS_SEND:
        perms = explanation.record(
            "implicit: cannot send, so cannot mention, attach or embed", perms & ~_NEEDS_SEND
        )
    if channel_kind == "voice" and not perms & Permission.CONNECT and perms & _NEEDS_CONNECT:
        perms = explanation.record(
            "implicit: cannot connect, so no voice permissions", perms & ~_NEEDS_CONNECT
        )
    return explanation


def base_permissions(
    *, is_owner: bool, default_role: RoleGrant, member_roles: Iterable[RoleGrant]
) -> int:
    return explain(
        user_id=0, is_owner=is_owner, default_role=default_role, member_roles=member_roles
    ).permissions


def channel_permissions(
    *,
    user_id: int,
    is_owner: bool,
    default_role: RoleGrant,
    member_roles: Iterable[RoleGrant],
    overwrites: Iterable[Overwrite],
    channel_kind: str,
) -> int:
    return explain(
        user_id=user_id,
        is_owner=is_owner,
        default_role=default_role,
        member_roles=member_roles,
        overwrites=overwrites,
        channel_kind=channel_kind,
    ).permissions
