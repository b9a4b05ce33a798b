"""A member's view of all their servers at once: what the gateway's READY carries."""

from __future__ import annotations

import asyncpg

from harmoniq_common import access as contract
from harmoniq_common.codec import encode

from ..store import members, servers
from .access import channels_with_overwrites, load_access, server_answer, visible_channels
from .views import channel_view, member_view, role_view, server_view

__all__ = ["user_servers"]

# A user is in at most max_servers_per_user servers; READY carries them all.
_ALL = 10_000


async def user_servers(
    conn: asyncpg.Connection, question: contract.UserServersRequest
) -> contract.UserServers:
    snapshots: list[contract.ServerSnapshot] = []
    size = 0
    for server in await servers.list_for_user(conn, question.user_id, question.after, _ALL):
        if question.page_bytes and snapshots and size >= question.page_bytes:
            return contract.UserServers(servers=snapshots, more=True)
        access = await load_access(conn, server.id, question.user_id)
        server_channels, overwrites = await channels_with_overwrites(conn, server.id)
        answer = server_answer(access, visible_channels(access, server_channels, overwrites))
        visible = {c.channel_id for c in answer.channels}
        member = await members.get(conn, server.id, question.user_id)
        assert member is not None  # load_access found it
        snapshot = contract.ServerSnapshot(
            server=server_view(server),
            channels=[channel_view(c, overwrites) for c in server_channels if c.id in visible],
            roles=[role_view(r) for r in access.roles.values()],
            member=member_view(member),
            member_count=await members.count(conn, server.id),
            access=answer,
        )
        if question.page_bytes:
            size += len(encode(snapshot))
        snapshots.append(snapshot)
    return contract.UserServers(servers=snapshots)
