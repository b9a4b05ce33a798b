"""DM channels: open a 1:1 DM (or find it), group DMs (name, icon, an owner who adds and
removes, anyone leaves), the list, and the access answer other services ask for.

A DM is a channel of kind ``dm`` / ``group_dm`` outside any server; it is its own scope
(``server_id`` in access answers and messages is the DM's own id). Access is membership and nothing else: a participant gets
:data:`~harmoniq_common.direct.DM_PERMISSIONS`, anyone else a 404, whatever roles they hold
anywhere. Changes to who is in it move the DM's own permission epoch (its id), so cached
answers elsewhere are asked again, and its events go to each participant's user subject.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import partial

import asyncpg

from harmoniq_common import access as contract
from harmoniq_common.access import bump_epoch
from harmoniq_common.direct import DM_PERMISSIONS, MAX_GROUP_DM_RECIPIENTS, UserDirect
from harmoniq_common.errors import BadRequest, Forbidden, NotFound
from harmoniq_common.events import (
    DmChannelCreated,
    DmChannelDeleted,
    DmChannelUpdated,
    DmChannelView,
    EventPayload,
    UserSummary,
)
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..store import direct as store
from ..store import relationships as relationships_store
from ..store.rows import DmChannelRow
from .relationships import is_blocked_either_way, may_dm, relationship_view

__all__ = ["DirectMessages", "GroupChange", "answer_direct_access", "user_direct"]

DM_LIST_LIMIT = 1000


def _unknown() -> NotFound:
    return NotFound("unknown channel", code="unknown_channel")


async def views(conn: asyncpg.Connection, rows: list[DmChannelRow]) -> list[DmChannelView]:
    recipients: dict[int, list[UserSummary]] = defaultdict(list)
    for r in await store.recipients(conn, [c.id for c in rows]):
        recipients[r.channel_id].append(
            UserSummary(id=r.user_id, username=r.username, avatar_url=r.avatar_url)
        )
    return [
        DmChannelView(
            id=row.id,
            kind=row.kind,
            recipients=recipients[row.id],
            name=row.name,
            icon_id=row.icon_id,
            owner_id=row.owner_id,
            last_activity_id=row.last_activity_id,
        )
        for row in rows
    ]


async def answer_direct_access(
    conn: asyncpg.Connection, question: contract.ChannelAccessRequest
) -> contract.ChannelAccess:
    """A DM's answer: participants only; 404 for everyone else, as for an unknown channel."""
    channel = await store.get(conn, question.channel_id)
    if channel is None:
        raise _unknown()
    participants = await store.participant_ids(conn, channel.id)
    if question.user_id not in participants:
        raise _unknown()
    permissions = DM_PERMISSIONS
    if channel.kind == "dm" and await is_blocked_either_way(conn, *participants):
        # The history stays readable; nothing new reaches the one who blocked, or from them.
        permissions &= ~int(Permission.SEND_MESSAGES | Permission.ADD_REACTIONS)
    return contract.ChannelAccess(
        server_id=channel.id,
        channel_id=channel.id,
        kind=channel.kind,
        permissions=permissions,
        recipient_ids=participants,
    )


async def user_direct(conn: asyncpg.Connection, user_id: Snowflake) -> UserDirect:
    """What READY carries besides servers."""
    return UserDirect(
        channels=await views(conn, await store.for_user(conn, user_id, DM_LIST_LIMIT)),
        relationships=[
            relationship_view(r) for r in await relationships_store.list_for(conn, user_id)
        ],
    )


@dataclass(frozen=True)
class GroupChange:
    """A PATCH of a group DM: ``None`` leaves a field as it is; ``clear_icon`` removes it."""

    name: str | None = None
    icon_id: str | None = None
    clear_icon: bool = False


class DirectMessages:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def list_all(self, user_id: Snowflake) -> list[DmChannelView]:
        async with self._platform.pool.acquire() as conn:
            return await views(conn, await store.for_user(conn, user_id, DM_LIST_LIMIT))

    async def _view(self, conn: asyncpg.Connection, channel_id: int) -> DmChannelView:
        row = await store.get(conn, channel_id)
        if row is None:
            raise _unknown()
        return (await views(conn, [row]))[0]

    async def _tell(self, tx: UnitOfWork, user_ids: list[Snowflake], payload: EventPayload) -> None:
        for user_id in user_ids:
            await tx.emit_user(user_id, payload)

    async def open(
        self,
        user_id: Snowflake,
        recipient_ids: list[Snowflake],
        name: str | None,
        icon_id: str | None,
    ) -> tuple[DmChannelView, bool]:
        """The DM with one recipient (the existing one if any), or a new group DM with
        several; and whether it is new."""
        others = sorted(set(recipient_ids) - {user_id})
        if not others:
            raise BadRequest.for_field("recipient_ids", "name someone other than yourself")
        if len(others) + 1 > MAX_GROUP_DM_RECIPIENTS:
            raise BadRequest.for_field(
                "recipient_ids", f"a group DM holds at most {MAX_GROUP_DM_RECIPIENTS} people"
            )
        if len(recipient_ids) == 1 and (name is not None or icon_id is not None):
            raise BadRequest("a 1:1 DM has no name or icon", code="invalid_request")
        async with unit_of_work(self._platform) as tx:
            for other in others:
                await may_dm(tx.conn, user_id, other)
            channel_id = self._platform.new_id()
            if len(recipient_ids) == 1:
                pair = store.pair_key(user_id, others[0])
                existing = await store.get_pair(tx.conn, pair)
                if existing is not None:
                    return (await views(tx.conn, [existing]))[0], False
                if not await store.create(tx.conn, channel_id, "dm", [user_id, *others], pair=pair):
                    existing = await store.get_pair(tx.conn, pair)  # a concurrent open won
                    assert existing is not None
                    return (await views(tx.conn, [existing]))[0], False
            else:
                await store.create(
                    tx.conn,
                    channel_id,
                    "group_dm",
                    [user_id, *others],
                    owner_id=user_id,
                    name=name,
                    icon_id=icon_id,
                )
            view = await self._view(tx.conn, channel_id)
            await self._tell(tx, [user_id, *others], DmChannelCreated(channel=view))
        return view, True

    async def _group(self, tx: UnitOfWork, user_id: int, channel_id: int) -> DmChannelRow:
        row = await store.get(tx.conn, channel_id)
        if row is None or user_id not in await store.participant_ids(tx.conn, channel_id):
            raise _unknown()
        if row.kind != "group_dm":
            raise BadRequest("only a group DM changes", code="not_a_group_dm")
        await tx.conn.execute("SELECT 1 FROM dm_channels WHERE id = $1 FOR UPDATE", channel_id)
        return row

    async def update(
        self, user_id: Snowflake, channel_id: Snowflake, change: GroupChange
    ) -> DmChannelView:
        """Rename or change the icon: any participant may, as in a group chat."""
        async with unit_of_work(self._platform) as tx:
            row = await self._group(tx, user_id, channel_id)
            icon = None if change.clear_icon else (change.icon_id or row.icon_id)
            await store.update(
                tx.conn,
                channel_id,
                name=change.name if change.name is not None else row.name,
                icon_id=icon,
                owner_id=row.owner_id,
            )
            view = await self._view(tx.conn, channel_id)
            await self._tell(
                tx, await store.participant_ids(tx.conn, channel_id), DmChannelUpdated(channel=view)
            )
        return view

    async def add(self, user_id: Snowflake, channel_id: Snowflake, target_id: Snowflake) -> None:
        """The owner adds someone they may DM, up to the limit."""
        async with unit_of_work(self._platform) as tx:
            row = await self._group(tx, user_id, channel_id)
            if row.owner_id != user_id:
                raise Forbidden("only the group's owner adds people", code="not_the_owner")
            participants = await store.participant_ids(tx.conn, channel_id)
            if target_id in participants:
                return
            if len(participants) >= MAX_GROUP_DM_RECIPIENTS:
                raise BadRequest(
                    f"a group DM holds at most {MAX_GROUP_DM_RECIPIENTS} people",
                    code="too_many_recipients",
                )
            await may_dm(tx.conn, user_id, target_id)
            await store.add_participant(tx.conn, channel_id, target_id)
            view = await self._view(tx.conn, channel_id)
            await tx.emit_user(target_id, DmChannelCreated(channel=view))
            await self._tell(tx, participants, DmChannelUpdated(channel=view))

    async def remove(self, user_id: Snowflake, channel_id: Snowflake, target_id: Snowflake) -> None:
        """The owner removes someone; anyone removes themselves (leaves). An owner who leaves
        hands the group to its longest-standing participant; the last one out ends it."""
        async with unit_of_work(self._platform) as tx:
            row = await self._group(tx, user_id, channel_id)
            if target_id != user_id and row.owner_id != user_id:
                raise Forbidden("only the group's owner removes people", code="not_the_owner")
            if not await store.remove_participant(tx.conn, channel_id, target_id):
                raise NotFound("not in this group", code="unknown_recipient")
            await tx.emit_user(
                target_id, DmChannelDeleted(channel_id=channel_id, user_id=target_id)
            )
            remaining = await store.participant_ids(tx.conn, channel_id)
            if remaining:
                owner = row.owner_id if row.owner_id in remaining else remaining[0]
                await store.update(
                    tx.conn, channel_id, name=row.name, icon_id=row.icon_id, owner_id=owner
                )
                view = await self._view(tx.conn, channel_id)
                await self._tell(tx, remaining, DmChannelUpdated(channel=view))
            else:
                await tx.conn.execute("DELETE FROM dm_channels WHERE id = $1", channel_id)
            # Whoever left sees nothing of it from now on, in every service's cached answers.
            tx.after_commit(
                partial(bump_epoch, self._platform.redis, self._platform.subjects, channel_id)
            )
