"""SQL for search: full text (English stems and words as written) or substring (trigrams)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from harmoniq_common.db import records_to

from .messages import SELECT
from .rows import MessageRow

__all__ = ["SearchQuery", "search"]


@dataclass(frozen=True)
class SearchQuery:
    server_id: int
    channel_ids: list[int]
    text: str | None = None
    author_id: int | None = None
    has_link: bool | None = None
    has_attachment: bool | None = None
    has_image: bool | None = None
    has_file: bool | None = None
    pinned: bool | None = None
    min_id: int | None = None  # from the `after` date
    max_id: int | None = None  # from the `before` date
    order: str = "relevance"  # "relevance" | "newest" | "oldest"
    limit: int = 25
    offset: int = 0


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search(conn: asyncpg.Connection, query: SearchQuery) -> list[MessageRow]:
    """One page (``limit`` + 1 rows, so the caller knows whether there is more)."""
    args: list[Any] = [query.server_id, query.channel_ids]
    where = ["m.server_id = $1", "m.channel_id = ANY($2)"]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    rank = "0"
    if query.text:
        text = arg(query.text)
        ts = (
            f"(websearch_to_tsquery('english'::regconfig, {text})"
            f" || websearch_to_tsquery('simple'::regconfig, {text}))"
        )
        like = arg(_like_pattern(query.text))
        where.append(f"(m.search @@ {ts} OR m.content ILIKE {like})")
        # Whole-word matches rank by density; substring-only matches after them.
        rank = f"ts_rank_cd(m.search, {ts}) + (m.content ILIKE {like})::int * 0.01"
    if query.author_id is not None:
        where.append(f"m.author_id = {arg(query.author_id)}")
    if query.has_link is not None:
        where.append(f"m.has_link = {arg(query.has_link)}")
    if query.has_attachment is not None:
        where.append(f"m.has_attachment = {arg(query.has_attachment)}")
    if query.has_image is not None:
        where.append(f"m.has_image = {arg(query.has_image)}")
    if query.has_file is not None:
        where.append(f"m.has_file = {arg(query.has_file)}")
    if query.pinned is not None:
        where.append(f"(m.pinned_at IS NOT NULL) = {arg(query.pinned)}")
    if query.min_id is not None:
        where.append(f"m.id >= {arg(query.min_id)}")
    if query.max_id is not None:
        where.append(f"m.id < {arg(query.max_id)}")
    order = {
        "relevance": "rank DESC, m.id DESC",
        "newest": "m.id DESC",
        "oldest": "m.id ASC",
    }[query.order]
    limit, offset = arg(query.limit + 1), arg(query.offset)
    sql = (
        f"SELECT * FROM ({SELECT.replace('SELECT ', f'SELECT {rank} AS rank, ', 1)}"
        f" WHERE {' AND '.join(where)}) m ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    )
    async with conn.transaction(readonly=True):
        # Planned for these very values every time: one SQL text serves every query, and the
        # generic plan Postgres would otherwise settle on after five runs is up to 50x slower
        # for some of them (docs/performance.md, "Messages").
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        records = await conn.fetch(sql, *args)
    return records_to(MessageRow, records)  # without "rank": not a field of MessageRow
