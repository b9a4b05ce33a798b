"""Search in a channel or across a server, only ever in channels the caller may read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from harmoniq_common.access import AccessCache
from harmoniq_common.errors import NotFound
from harmoniq_common.ids import Snowflake, lowest_snowflake_at
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform

from ..store import search as store
from .messages import Messages, Page, require

__all__ = ["Search", "SearchFilters"]

READ = Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY


@dataclass(frozen=True)
class SearchFilters:
    text: str | None = None
    author_id: int | None = None
    channel_id: int | None = None
    has_link: bool | None = None
    has_attachment: bool | None = None
    has_image: bool | None = None  # an attachment is an image
    has_file: bool | None = None  # an attachment is not an image
    pinned: bool | None = None
    before: datetime | None = None
    after: datetime | None = None
    order: str = "relevance"
    limit: int = 25
    offset: int = 0


def _bound(moment: datetime | None) -> int | None:
    return None if moment is None else lowest_snowflake_at(int(moment.timestamp() * 1000))


class Search:
    def __init__(self, platform: Platform, access: AccessCache, messages: Messages) -> None:
        self._platform = platform
        self._access = access
        self._messages = messages

    async def _run(
        self, server_id: int, channel_ids: list[int], f: SearchFilters, viewer: int
    ) -> tuple[Page, bool]:
        query = store.SearchQuery(
            server_id=server_id,
            channel_ids=channel_ids,
            text=f.text,
            author_id=f.author_id,
            has_link=f.has_link,
            has_attachment=f.has_attachment,
            has_image=f.has_image,
            has_file=f.has_file,
            pinned=f.pinned,
            min_id=_bound(f.after),
            max_id=_bound(f.before),
            order=f.order if f.text else ("oldest" if f.order == "oldest" else "newest"),
            limit=f.limit,
            offset=f.offset,
        )
        async with self._platform.pool.acquire() as conn:
            rows = await store.search(conn, query) if channel_ids else []
            more = len(rows) > f.limit
            return await self._messages.page_of(conn, rows[: f.limit], viewer), more

    async def in_channel(
        self, user_id: int, channel_id: int, filters: SearchFilters
    ) -> tuple[Page, bool]:
        access = await self._access.channel(user_id, channel_id)
        require(access, Permission.READ_MESSAGE_HISTORY)
        return await self._run(
            access.server_id, [channel_id], replace(filters, channel_id=None), user_id
        )

    async def in_server(
        self, user_id: int, server_id: int, filters: SearchFilters
    ) -> tuple[Page, bool]:
        access = await self._access.server(user_id, server_id)
        readable = [c.channel_id for c in access.channels if c.permissions & READ == READ]
        if filters.channel_id is not None:
            if filters.channel_id not in readable:
                raise NotFound("unknown channel", code="unknown_channel")
            readable = [Snowflake(filters.channel_id)]
        return await self._run(server_id, list(readable), filters, user_id)
