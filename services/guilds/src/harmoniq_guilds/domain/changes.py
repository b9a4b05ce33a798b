"""Every write in guilds goes through :func:`guild_change`: a unit of work that, once committed,
moves the permission epoch of each server it emitted an access-changing event for (as the
event declares: ``EventPayload.changes_access``), so that cached access answers in other
services (``harmoniq_common.access``) are not used again. Other changes (invites, joins,
unbans) leave the epoch, and everyone's cached answers, alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from harmoniq_common.access import bump_epoch
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

__all__ = ["guild_change"]


@asynccontextmanager
async def guild_change(platform: Platform) -> AsyncIterator[UnitOfWork]:
    async with unit_of_work(platform) as tx:
        yield tx
        subjects = platform.subjects
        changed = {
            subjects.server_of(subject)
            for subject, event in tx.emitted
            if event.changes_access is not None
        }
        for server_id in sorted(s for s in changed if s is not None):
            tx.after_commit(partial(bump_epoch, platform.redis, subjects, server_id))
