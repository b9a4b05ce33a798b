"""How fast a page of messages becomes Structs: ``records_to`` against the row-by-row way.

The records are real asyncpg records of the message read path's shape (``MessageRow``: seven
ids, two id arrays, text, times), fetched once from Postgres; only the conversion is timed.
"row by row" is what each service's ``store/rows.py`` did before ``harmoniq_common.db``
(``msgspec.convert(dict(record), …)`` per record). Best of many interleaved runs, since the
machine may be busy: the figures are per page of 50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from harmoniq_common.db import records_to
from harmoniq_common.ids import Snowflake
from harmoniq_common.testing.infra import InfraStack
from harmoniq_messages.store.rows import MessageRow

PAGE = (
    "SELECT (1000000000000 + g)::bigint AS id, 11::bigint AS server_id,"
    " 22::bigint AS channel_id, 33::bigint AS author_id, 'alice' AS author_username,"
    " NULL::text AS author_avatar_url, repeat('hello ', 20) AS content, NULL::text AS nonce,"
    " CASE WHEN g % 3 = 0 THEN (999 + g)::bigint END AS reply_to_id,"
    " ARRAY[5::bigint, 6::bigint] AS mention_user_ids, ARRAY[]::bigint[] AS mention_role_ids,"
    " false AS mention_everyone, false AS has_link, false AS has_attachment,"
    " NULL::timestamptz AS pinned_at, NULL::timestamptz AS edited_at, now() AS created_at"
    " FROM generate_series(1, $1) g"
)


def _snowflakes(kind: type, value: Any) -> Any:
    if kind is Snowflake:
        return Snowflake(value)
    raise NotImplementedError


def row_by_row(records: list[asyncpg.Record]) -> list[MessageRow]:
    return [msgspec.convert(dict(r), MessageRow, dec_hook=_snowflakes) for r in records]


async def _records(dsn: str, size: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        records: list[asyncpg.Record] = await conn.fetch(PAGE, size)
        return records
    finally:
        await conn.close()


def measure(records: list[asyncpg.Record], rounds: int) -> dict[str, float]:
    ways: dict[str, Callable[[], object]] = {
        "row by row (before)": lambda: row_by_row(records),
        "records_to": lambda: records_to(MessageRow, records),
    }
    assert row_by_row(records) == records_to(MessageRow, records)
    best = dict.fromkeys(ways, float("inf"))
    for _ in range(rounds):
        for name, convert in ways.items():
            best[name] = min(best[name], timeit.timeit(convert, number=100) / 100)
    return best


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench rows")
    parser.add_argument("--page", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args(argv)
    dsn = os.environ.get("HARMONIQ_POSTGRES_URL")
    if dsn:
        records = asyncio.run(_records(dsn, args.page))
    else:
        with tempfile.TemporaryDirectory() as tmp, InfraStack(Path(tmp) / "infra") as infra:
            records = asyncio.run(_records(infra.postgres_url, args.page))
    print(f"# asyncpg records to MessageRow, {args.page} per page (best of {args.rounds})")
    for name, seconds in measure(records, args.rounds).items():
        print(f"{name:22s} {seconds * 1e6:8.1f} µs per page")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
