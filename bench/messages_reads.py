"""The reads of the messages benchmark: which requests, and the plans of the SQL behind them.

History pages (the newest, and pages before cursors deep in the channel) and searches: English
with stems, a rare word, Chinese and Japanese (written without spaces), a substring inside
words, with filters, channel and server wide. For each, :func:`plans` runs the service's own SQL
(captured from its store functions) under ``EXPLAIN (ANALYZE, BUFFERS)``, both as planned for
the given values (a *custom* plan) and as the *generic* plan a cached prepared statement may
switch to after five executions, and counts the matching rows.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import messages_corpus
import messages_measure
from messages_load import Cast

from harmoniq_common.ids import lowest_snowflake_at
from harmoniq_messages.store import messages as message_sql
from harmoniq_messages.store import search as search_sql
from harmoniq_messages.store import users as users_sql

__all__ = ["ReadCase", "deep_cursors", "lowest_id_at", "plans", "print_plan", "search_cases"]


@dataclass(frozen=True)
class ReadCase:
    name: str
    requests: list[tuple[str, dict[str, str]]]
    query: search_sql.SearchQuery | None = None  # for the plan; None for history
    concurrency: int = 1


def search_cases(cast: Cast, channels: list[int], author: int) -> list[ReadCase]:
    server, big = int(cast.server_id), int(cast.big_channel_id)
    in_channel = f"/api/v1/channels/{big}/messages/search"
    in_server = f"/api/v1/servers/{server}/messages/search"
    month_ago = datetime.now(UTC) - timedelta(days=30)

    def case(name: str, path: str, params: dict[str, str], **query: Any) -> ReadCase:
        scope = channels if path == in_server else [big]
        text = params.get("q")
        order = params.get("order", "relevance" if text else "newest")
        return ReadCase(
            name,
            [(path, params)],
            search_sql.SearchQuery(
                server_id=server, channel_ids=scope, text=text, order=order, **query
            ),
        )

    rare = messages_corpus.RARE_WORD
    return [
        case("search 'deploying' (English, stems)", in_channel, {"q": "deploying"}),
        case(f"search '{rare}' (rare word)", in_channel, {"q": rare}),
        case("search '数据库' (Chinese, 3 chars)", in_channel, {"q": "数据库"}),
        case("search '部署' (Chinese, 2 chars)", in_channel, {"q": "部署"}),
        case("search 'サーバー' (Japanese)", in_channel, {"q": "サーバー"}),
        case("search 'ynchron' (inside words)", in_channel, {"q": "ynchron"}),
        case(
            "search 'deploying' + author",
            in_channel,
            {"q": "deploying", "author_id": str(author)},
            author_id=author,
        ),
        case(
            "search 'deploying' + has link",
            in_channel,
            {"q": "deploying", "has": "link"},
            has_link=True,
        ),
        case(
            "search 'deploying' last 30 days, newest",
            in_channel,
            {"q": "deploying", "after": month_ago.isoformat(), "order": "newest"},
            min_id=lowest_id_at(month_ago),
        ),
        case(
            "search author only (no text), newest",
            in_channel,
            {"author_id": str(author)},
            author_id=author,
        ),
        case("server search 'deploying'", in_server, {"q": "deploying"}),
        case(f"server search '{rare}'", in_server, {"q": rare}),
    ]


def lowest_id_at(moment: datetime) -> int:
    return lowest_snowflake_at(int(moment.timestamp() * 1000))


def deep_cursors(seed: messages_corpus.SeedReport, count: int) -> list[int]:
    """Cursors scattered through the older half of the channel (ids are spread evenly in time,
    so half the id range is about half the messages): someone scrolling far back."""
    rng = random.Random(7)
    middle = (seed.first_id + seed.last_id) // 2
    start = seed.first_id + (300_000 << 22)  # five minutes in: every page before it is full
    return [rng.randrange(start, middle) for _ in range(count)]


async def plans(
    admin_dsn: str, cases: list[ReadCase], big: int, cursor: int, sample_insert: Any
) -> dict[str, dict[str, Any]]:
    """EXPLAIN ANALYZE of each case's SQL, and how many rows match each search."""
    admin = await asyncpg.connect(admin_dsn)
    found: dict[str, dict[str, Any]] = {}
    try:
        await admin.execute("SET search_path TO messages")
        # As the service's pool does (harmoniq_common.db): jsonb parameters from Python values.
        await admin.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        history = {
            "history newest 50": lambda c: message_sql.history(c, big, limit=50),
            "history before deep cursor": lambda c: message_sql.history(
                c, big, before=cursor, limit=50
            ),
        }
        for name, call in history.items():
            (sql, args), *_ = await messages_measure.captured_sql(call)
            found[name] = await _both_plans(admin, sql, args)
        for case in cases:
            if case.query is None:
                continue
            query = case.query
            (sql, args), *_ = await messages_measure.captured_sql(
                lambda c, q=query: search_sql.search(c, q)
            )
            unlimited = search_sql.SearchQuery(**{**asdict(query), "limit": 10_000_000})
            (all_sql, all_args), *_ = await messages_measure.captured_sql(
                lambda c, q=unlimited: search_sql.search(c, q)
            )
            matches = await admin.fetchval(f"SELECT count(*) FROM ({all_sql}) found", *all_args)
            found[case.name] = await _both_plans(admin, sql, args) | {"matches": matches}
        author = await users_sql.summary(admin, sample_insert.author_id)
        assert author is not None, "the sender is in the users projection after the warm-up"
        (sql, args), *_ = await messages_measure.captured_sql(
            lambda c: _answered(message_sql.send(c, sample_insert, author, datetime.now(UTC), []))
        )
        plan = await messages_measure.explain(admin, sql, args, rollback=True)
        found["send: one statement"] = {
            "sql": sql,
            "plan": plan.lines,
            "execution_ms": plan.execution_ms,
        }
    finally:
        await admin.close()
    return found


async def _answered(statement: Awaitable[object]) -> None:
    """Run a store call whose answer the recorder cannot give (it returns no rows)."""
    with contextlib.suppress(AssertionError):
        await statement


async def _both_plans(admin: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> dict[str, Any]:
    custom = await messages_measure.explain(admin, sql, args)
    generic = await messages_measure.explain_generic(admin, sql, args)
    return {
        "sql": sql,
        "plan": custom.lines,
        "execution_ms": custom.execution_ms,
        "generic_plan": generic.lines,
        "generic_ms": generic.execution_ms,
    }


def print_plan(name: str, entry: dict[str, Any]) -> None:
    plan = messages_measure.Plan(entry["plan"])
    matches = f", {entry['matches']} matching rows" if "matches" in entry else ""
    generic = ""
    if "generic_plan" in entry:
        generic = f"; generic plan {entry['generic_ms']:.1f} ms"
    print(f"-- {name}: {plan.execution_ms:.1f} ms in Postgres (custom plan){generic}{matches}")
    for line in plan.outline[:8]:
        print(f"   {line}")
    if "generic_plan" in entry:
        outline = messages_measure.Plan(entry["generic_plan"]).outline
        print("   generic plan: " + " / ".join(n.strip().lstrip("-> ").split(" (actual")[0]
                                             for n in outline[:6]))  # fmt: skip
