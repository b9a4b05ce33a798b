"""Who may do what in a server: the caller's roles loaded once, decided by libs/common."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from harmoniq_common import access as contract
from harmoniq_common.errors import Forbidden, NotFound
from harmoniq_common.ids import Snowflake
from harmoniq_common.installations import within_grant
from harmoniq_common.permissions import (
    Explanation,
    Overwrite,
    Permission,
    RoleGrant,
    explain,
)

from ..store import channels, roles, servers
from ..store import members as members_store
from ..store.rows import ChannelRow, MemberRow, OverwriteRow, RoleRow, ServerRow
from .direct import answer_direct_access

__all__ = [
    "ServerAccess",
    "answer_channel_access",
    "answer_server_access",
    "answer_server_access_many",
    "channels_with_overwrites",
    "load_access",
    "overwrite_grants",
    "server_answer",
    "visible_channels",
]


def overwrite_grants(rows: list[OverwriteRow]) -> list[Overwrite]:
    return [Overwrite(o.target_kind, o.target_id, o.allow_bits, o.deny_bits) for o in rows]


@dataclass
class ServerAccess:
    server: ServerRow
    user_id: Snowflake
    roles: dict[Snowflake, RoleRow]
    member_role_ids: list[Snowflake]

    @property
    def is_owner(self) -> bool:
        return self.server.owner_id == self.user_id

    @property
    def default_role(self) -> RoleRow:
        return self.roles[self.server.id]

    @property
    def grant(self) -> int | None:
        """An installed bot's grant (its managed role's permissions), None for anyone else:
        a bot's permissions are cut down to it everywhere in the server."""
        for role_id in self.member_role_ids:
            role = self.roles.get(role_id)
            if role is not None and role.managed_by == self.user_id:
                return role.permissions
        return None

    def _grants(self, role_ids: list[Snowflake]) -> list[RoleGrant]:
        return [RoleGrant(r, self.roles[r].permissions) for r in role_ids if r in self.roles]

    def grants(self) -> list[RoleGrant]:
        """The member's roles as the permission function takes them."""
        return self._grants(self.member_role_ids)

    def explain(
        self, channel: ChannelRow | None = None, overwrites: list[OverwriteRow] | None = None
    ) -> Explanation:
        explanation = explain(
            user_id=self.user_id,
            is_owner=self.is_owner,
            default_role=RoleGrant(self.server.id, self.default_role.permissions),
            member_roles=self._grants(self.member_role_ids),
            overwrites=None if channel is None else overwrite_grants(overwrites or []),
            channel_kind=None if channel is None else channel.kind,
        )
        grant = self.grant
        if grant is not None and within_grant(explanation.permissions, grant) != (
            explanation.permissions
        ):
            explanation.record(
                "an installed bot: nothing beyond its grant",
                within_grant(explanation.permissions, grant),
            )
        return explanation

    @property
    def permissions(self) -> int:
        return self.explain().permissions

    def require(
        self,
        permission: Permission,
        *,
        channel: ChannelRow | None = None,
        overwrites: list[OverwriteRow] | None = None,
    ) -> None:
        if not self.explain(channel, overwrites).permissions & permission:
            raise Forbidden(f"missing permission {permission.name}", code="missing_permission")

    @property
    def top_position(self) -> int:
        """The position of the caller's highest role (the owner outranks everyone)."""
        if self.is_owner:
            return 1 << 30
        positions = [self.roles[r].position for r in self.member_role_ids if r in self.roles]
        return max(positions, default=0)

    def require_above(self, position: int, what: str) -> None:
        """Role hierarchy: nobody manages a role, or a member, at or above their own top."""
        if not self.is_owner and position >= self.top_position:
            raise Forbidden(f"{what} is at or above your highest role", code="role_hierarchy")

    def require_outranks(self, target: MemberRow, what: str) -> None:
        """Moderating a member: never the owner, and only below the caller's highest role."""
        if target.user_id == self.server.owner_id:
            raise Forbidden(f"the owner cannot be {what}", code="role_hierarchy")
        top = max((self.roles[r].position for r in target.roles if r in self.roles), default=0)
        self.require_above(top, "that member")


async def load_access(conn: asyncpg.Connection, server_id: int, user_id: Snowflake) -> ServerAccess:
    """The caller's standing in the server; 404 when either does not exist for them.

    Non-members get 404 rather than 403 so that server ids cannot be probed.
    """
    server = await servers.get(conn, server_id)
    member = await members_store.get(conn, server_id, user_id) if server else None
    if server is None or member is None:
        raise NotFound("unknown server", code="unknown_server")
    server_roles = {r.id: r for r in await roles.list_for_server(conn, server_id)}
    return ServerAccess(server, user_id, server_roles, member.roles)


async def channel_with_overwrites(
    conn: asyncpg.Connection, channel_id: int
) -> tuple[ChannelRow, list[OverwriteRow]]:
    channel = await channels.get(conn, channel_id)
    if channel is None:
        raise NotFound("unknown channel", code="unknown_channel")
    return channel, await channels.overwrites_for(conn, [channel_id])


def _channel_answer(
    access: ServerAccess,
    channel: ChannelRow,
    overwrites: list[OverwriteRow],
    *,
    with_role_ids: bool = True,
) -> contract.ChannelAccess:
    mine = [o for o in overwrites if o.channel_id == channel.id]
    return contract.ChannelAccess(
        server_id=channel.server_id,
        channel_id=channel.id,
        kind=channel.kind,
        permissions=access.explain(channel, mine).permissions,
        role_ids=sorted(access.roles) if with_role_ids else [],
        user_limit=channel.user_limit if channel.kind == "voice" else None,
    )


async def answer_channel_access(
    conn: asyncpg.Connection, question: contract.ChannelAccessRequest
) -> contract.ChannelAccess:
    """What another service asks before acting for a user in a channel.

    Unknown channels and channels the user cannot view are both 404, as over HTTP. A DM or
    group DM is answered by its participants alone (``domain/direct.py``).
    """
    try:
        channel, overwrites = await channel_with_overwrites(conn, question.channel_id)
    except NotFound:
        return await answer_direct_access(conn, question)
    try:
        access = await load_access(conn, channel.server_id, question.user_id)
    except NotFound:
        raise NotFound("unknown channel", code="unknown_channel") from None
    answer = _channel_answer(access, channel, overwrites)
    if not answer.allows(Permission.VIEW_CHANNEL):
        raise NotFound("unknown channel", code="unknown_channel")
    return answer


async def channels_with_overwrites(
    conn: asyncpg.Connection, server_id: int
) -> tuple[list[ChannelRow], list[OverwriteRow]]:
    server_channels = await channels.list_for_server(conn, server_id)
    return server_channels, await channels.overwrites_for(conn, [c.id for c in server_channels])


def visible_channels(
    access: ServerAccess, server_channels: list[ChannelRow], overwrites: list[OverwriteRow]
) -> list[contract.ChannelAccess]:
    """The member's permissions in each channel they can view; the others are left out, as
    from their channel list (a private channel's id and kind are not theirs to know). The
    server's role ids are not repeated per channel: nobody reads them there, and a gateway
    holds one of these per session and server."""
    answers = [_channel_answer(access, c, overwrites, with_role_ids=False) for c in server_channels]
    return [a for a in answers if a.allows(Permission.VIEW_CHANNEL)]


def server_answer(
    access: ServerAccess, visible: list[contract.ChannelAccess]
) -> contract.ServerAccess:
    """The member's standing in the server, with their :func:`visible_channels`."""
    return contract.ServerAccess(
        server_id=access.server.id,
        channels=visible,
        user_id=access.user_id,
        is_owner=access.is_owner,
        # Plain ints: RoleGrant is the permission function's type, not an id on the wire.
        default_role=RoleGrant(int(access.server.id), access.default_role.permissions),
        member_roles=[RoleGrant(int(g.id), g.permissions) for g in access.grants()],
        grant=access.grant,
    )


async def answer_server_access(
    conn: asyncpg.Connection, question: contract.ServerAccessRequest
) -> contract.ServerAccess:
    access = await load_access(conn, question.server_id, question.user_id)
    server_channels, overwrites = await channels_with_overwrites(conn, question.server_id)
    return server_answer(access, visible_channels(access, server_channels, overwrites))


async def answer_server_access_many(
    conn: asyncpg.Connection, question: contract.ServerAccessManyRequest
) -> contract.ServerAccessMany:
    """Many members' access at once (a gateway after a role change in a large server): the
    server, its roles, channels and overwrites are read once, not once per member. Users who
    are not members are left out of the answer."""
    answer = contract.ServerAccessMany(server_id=question.server_id, members=[])
    server = await servers.get(conn, question.server_id)
    if server is None:
        return answer
    server_roles = {r.id: r for r in await roles.list_for_server(conn, server.id)}
    server_channels, overwrites = await channels_with_overwrites(conn, server.id)
    found = await members_store.get_many(conn, server.id, [int(u) for u in question.user_ids])
    # Most members of a large server share their roles, and overwrites naming one member are
    # few: members alike are computed once (the permission arithmetic is most of the cost).
    singled_out = {o.target_id for o in overwrites if o.target_kind == "member"}
    computed: dict[tuple[object, ...], list[contract.ChannelAccess]] = {}
    for member in found:
        access = ServerAccess(server, member.user_id, server_roles, member.roles)
        alike = (
            access.is_owner,
            frozenset(member.roles),
            member.user_id if member.user_id in singled_out else None,
        )
        if alike not in computed:
            computed[alike] = visible_channels(access, server_channels, overwrites)
        answer.members.append(server_answer(access, computed[alike]))
    return answer
