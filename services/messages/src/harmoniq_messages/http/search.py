"""Search: ``/api/v1/channels/{id}/messages/search`` and ``/api/v1/servers/{id}/messages/search``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from harmoniq_common.ids import parse_id

from ..domain.messages import Page
from ..domain.search import SearchFilters
from .deps import Domain, UserRequest, dependencies, render
from .schemas import SearchResults

__all__ = ["ChannelSearchController", "ServerSearchController"]

D = NamedDependency[Domain]
Text = Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=200)]
Id = Annotated[str | None, QueryParameter(max_length=20)]
Has = Annotated[Literal["link", "attachment"] | None, QueryParameter()]
Order = Annotated[Literal["relevance", "newest", "oldest"], QueryParameter()]
Limit = Annotated[int, QueryParameter(ge=1, le=50)]
Pinned = Annotated[bool | None, QueryParameter()]
Moment = Annotated[datetime | None, QueryParameter()]
Offset = Annotated[int, QueryParameter(ge=0, le=5000)]


def _filters(
    q: str | None,
    author_id: str | None,
    channel_id: str | None,
    has: str | None,
    pinned: bool | None,
    before: datetime | None,
    after: datetime | None,
    order: str,
    limit: int,
    offset: int,
) -> SearchFilters:
    return SearchFilters(
        text=q.strip() or None if q else None,
        author_id=None if author_id is None else parse_id("author_id", author_id),
        channel_id=None if channel_id is None else parse_id("channel_id", channel_id),
        has_link=True if has == "link" else None,
        has_attachment=True if has == "attachment" else None,
        pinned=pinned,
        before=before,
        after=after,
        order=order,
        limit=limit,
        offset=offset,
    )


def _results(found: tuple[Page, bool], filters: SearchFilters) -> SearchResults:
    page, more = found
    return SearchResults(
        messages=render(page),
        has_more=more,
        next_offset=filters.offset + filters.limit if more else None,
    )


class ChannelSearchController(Controller):
    path = "/api/v1/channels/{channel_id:str}/messages/search"
    tags = ["search"]
    dependencies = dependencies()

    @get("/", operation_id="searchChannel")
    async def search(
        self,
        request: UserRequest,
        channel_id: FromPath[str],
        domain: D,
        q: Text = None,
        author_id: Id = None,
        has: Has = None,
        pinned: Pinned = None,
        before: Moment = None,
        after: Moment = None,
        order: Order = "relevance",
        limit: Limit = 25,
        offset: Offset = 0,
    ) -> SearchResults:
        """Words (any language, stems for English) or substrings, with filters."""
        filters = _filters(q, author_id, None, has, pinned, before, after, order, limit, offset)
        found = await domain.search.in_channel(
            request.user.user_id, parse_id("channel_id", channel_id), filters
        )
        return _results(found, filters)


class ServerSearchController(Controller):
    path = "/api/v1/servers/{server_id:str}/messages/search"
    tags = ["search"]
    dependencies = dependencies()

    @get("/", operation_id="searchServer")
    async def search(
        self,
        request: UserRequest,
        server_id: FromPath[str],
        domain: D,
        q: Text = None,
        author_id: Id = None,
        channel_id: Id = None,
        has: Has = None,
        pinned: Pinned = None,
        before: Moment = None,
        after: Moment = None,
        order: Order = "relevance",
        limit: Limit = 25,
        offset: Offset = 0,
    ) -> SearchResults:
        """Across every channel of the server the caller may read."""
        filters = _filters(
            q, author_id, channel_id, has, pinned, before, after, order, limit, offset
        )
        found = await domain.search.in_server(
            request.user.user_id, parse_id("server_id", server_id), filters
        )
        return _results(found, filters)
