"""Search: ``/api/v1/channels/{id}/messages/search`` and ``/api/v1/servers/{id}/messages/search``.

The query parameters both share are one dependency (``filters``); the server search adds its
``channel_id`` filter on top of it.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter

from harmoniq_common.ids import Snowflake
from harmoniq_common.validation import snowflake_time

from ..domain.messages import Page
from ..domain.search import SearchFilters
from .deps import Domain, UserRequest, dependencies, render
from .schemas import SearchResults

__all__ = ["ChannelSearchController", "ServerSearchController"]

D = NamedDependency[Domain]
Filters = NamedDependency[SearchFilters]
Text = Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=200)]
Id = FromQuery[Snowflake | None]
Has = Annotated[Literal["link", "attachment", "image", "file"] | None, QueryParameter()]
Order = Annotated[Literal["relevance", "newest", "oldest"], QueryParameter()]
Limit = Annotated[int, QueryParameter(ge=1, le=50)]
Pinned = Annotated[bool | None, QueryParameter()]
Moment = Annotated[datetime | None, QueryParameter()]
Offset = Annotated[int, QueryParameter(ge=0, le=5000)]


def provide_filters(
    q: Text = None,
    author_id: Id = None,
    has: Has = None,
    pinned: Pinned = None,
    before: Moment = None,
    after: Moment = None,
    order: Order = "relevance",
    limit: Limit = 25,
    offset: Offset = 0,
) -> SearchFilters:
    """Words (any language, stems for English) or substrings, and the filters."""
    return SearchFilters(
        text=q.strip() or None if q else None,
        author_id=author_id,
        has_link=True if has == "link" else None,
        has_attachment=True if has == "attachment" else None,
        has_image=True if has == "image" else None,
        has_file=True if has == "file" else None,
        pinned=pinned,
        before=snowflake_time("before", before),
        after=snowflake_time("after", after),
        order=order,
        limit=limit,
        offset=offset,
    )


def provide_server_filters(base_filters: Filters, channel_id: Id = None) -> SearchFilters:
    if channel_id is None:
        return base_filters
    return dataclasses.replace(base_filters, channel_id=channel_id)


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
    dependencies = {
        **dependencies(),
        "filters": Provide(provide_filters, sync_to_thread=False),
    }

    @get("/", operation_id="searchChannel")
    async def search(
        self, request: UserRequest, channel_id: FromPath[Snowflake], domain: D, filters: Filters
    ) -> SearchResults:
        """Words (any language, stems for English) or substrings, with filters."""
        found = await domain.search.in_channel(request.user.user_id, channel_id, filters)
        return _results(found, filters)


class ServerSearchController(Controller):
    path = "/api/v1/servers/{server_id:str}/messages/search"
    tags = ["search"]
    dependencies = {
        **dependencies(),
        "base_filters": Provide(provide_filters, sync_to_thread=False),
        "filters": Provide(provide_server_filters, sync_to_thread=False),
    }

    @get("/", operation_id="searchServer")
    async def search(
        self, request: UserRequest, server_id: FromPath[Snowflake], domain: D, filters: Filters
    ) -> SearchResults:
        """Across every channel of the server the caller may read (or one: ``channel_id``)."""
        found = await domain.search.in_server(request.user.user_id, server_id, filters)
        return _results(found, filters)
