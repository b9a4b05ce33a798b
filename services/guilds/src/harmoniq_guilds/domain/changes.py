"""Every write in guilds goes through :func:`guild_change`: a unit of work that, once committed,
moves the permission epoch of each server it emitted events for, so that cached access answers
in other services (``harmoniq_common.access``) are not used again."""

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
        touched = {subjects.server_of(s) for s in tx.emitted_subjects} - {None}
        for server_id in sorted(s for s in touched if s is not None):
            tx.after_commit(partial(bump_epoch, platform.redis, subjects, server_id))
