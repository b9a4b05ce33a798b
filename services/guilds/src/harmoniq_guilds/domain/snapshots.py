"""A member's view of all their servers at once: what the gateway's READY carries.

Read a batch of servers at a time with one query per table (channels, overwrites, roles, the
member's rows, member counts), not a handful per server: READY for a user in 100 servers was
600 round trips before (docs/performance.md). Asked with ``page_bytes``, the answer stops
after the first server that takes it past that many encoded bytes (``more``: ask again after
its last server), so that it stays under NATS's payload limit.
"""

from __future__ import annotations

from collections import defaultdict

import asyncpg

from harmoniq_common import access as contract
from harmoniq_common.codec import encode
from harmoniq_common.ids import Snowflake

from ..store import channels, members, roles, servers
from ..store.rows import ChannelRow, OverwriteRow, RoleRow, ServerRow
from .access import ServerAccess, server_answer, visible_channels
from .views import channel_view, member_view, role_view, server_view

__all__ = ["user_servers"]

# A user is in at most max_servers_per_user servers; READY carries them all.
_ALL = 10_000
# Servers read per batch of queries: small enough that a page stopped early read little extra.
_BATCH = 25


async def _snapshots(
    conn: asyncpg.Connection, user_id: int, batch: list[ServerRow]
) -> list[contract.ServerSnapshot]:
    ids = [int(s.id) for s in batch]
    by_server_channels: dict[int, list[ChannelRow]] = defaultdict(list)
    for channel in await channels.list_for_servers(conn, ids):
        by_server_channels[int(channel.server_id)].append(channel)
    all_channels = [int(c.id) for cs in by_server_channels.values() for c in cs]
    overwrites_by_server: dict[int, list[OverwriteRow]] = defaultdict(list)
    server_of = {c.id: int(c.server_id) for cs in by_server_channels.values() for c in cs}
    for overwrite in await channels.overwrites_for(conn, all_channels):
        overwrites_by_server[server_of[overwrite.channel_id]].append(overwrite)
    roles_by_server: dict[int, dict[Snowflake, RoleRow]] = defaultdict(dict)
    for role in await roles.list_for_servers(conn, ids):
        roles_by_server[int(role.server_id)][role.id] = role
    mine = {int(m.server_id): m for m in await members.memberships(conn, user_id, ids)}
    counts = await members.counts(conn, ids)
    snapshots = []
    for server in batch:
        member = mine.get(int(server.id))
        if member is None:  # left between the listing and now
            continue
        server_roles = roles_by_server[int(server.id)]
        access = ServerAccess(server, member.user_id, server_roles, member.roles)
        server_channels = by_server_channels[int(server.id)]
        overwrites = overwrites_by_server[int(server.id)]
        answer = server_answer(access, visible_channels(access, server_channels, overwrites))
        visible = {c.channel_id for c in answer.channels}
        snapshots.append(
            contract.ServerSnapshot(
                server=server_view(server),
                channels=[channel_view(c, overwrites) for c in server_channels if c.id in visible],
                roles=[role_view(r) for r in server_roles.values()],
                member=member_view(member),
                member_count=counts.get(int(server.id), 0),
                access=answer,
            )
        )
    return snapshots


async def user_servers(
    conn: asyncpg.Connection, question: contract.UserServersRequest
) -> contract.UserServers:
    listed = await servers.list_for_user(conn, question.user_id, question.after, _ALL)
    snapshots: list[contract.ServerSnapshot] = []
    size = 0
    for start in range(0, len(listed), _BATCH):
        for snapshot in await _snapshots(conn, question.user_id, listed[start : start + _BATCH]):
            if question.page_bytes and snapshots and size >= question.page_bytes:
                return contract.UserServers(servers=snapshots, more=True)
            if question.page_bytes:
                size += len(encode(snapshot))
            snapshots.append(snapshot)
    return contract.UserServers(servers=snapshots)
