"""Rows to Structs: the one conversion every store uses, on records from a real Postgres."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec
import pytest

from harmoniq_common.codec import encode
from harmoniq_common.db import record_or_none, record_to, records_to
from harmoniq_common.ids import Snowflake


class Row(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    parent_id: Snowflake | None
    mentions: list[Snowflake]
    name: str
    at: datetime


SQL = (
    "SELECT g::bigint * 1000000000000 AS id,"
    " CASE WHEN g % 2 = 0 THEN g::bigint END AS parent_id,"
    " ARRAY[g::bigint, 7::bigint] AS mentions, 'n' || g AS name, now() AS at,"
    " 0.5::float8 AS rank"  # a column the Struct does not have: left out
    " FROM generate_series(1, 3) g ORDER BY g"
)


async def test_records_become_structs_with_snowflake_ids(pool: asyncpg.Pool) -> None:
    records = await pool.fetch(SQL)
    rows = records_to(Row, records)
    assert [r.id for r in rows] == [10**12, 2 * 10**12, 3 * 10**12]
    assert [r.parent_id for r in rows] == [None, 2, None]
    assert all(type(r.id) is Snowflake and type(r.mentions[0]) is Snowflake for r in rows)
    assert type(rows[1].parent_id) is Snowflake
    # Snowflakes travel as strings: an id read from the database stays exact in JavaScript.
    assert b'"id":"1000000000000"' in encode(rows[0])
    assert record_to(Row, records[1]) == rows[1]
    assert record_or_none(Row, await pool.fetchrow(f"{SQL} LIMIT 0")) is None
    assert records_to(Row, []) == []


async def test_a_column_of_the_wrong_type_is_refused(pool: asyncpg.Pool) -> None:
    record = await pool.fetchrow(
        "SELECT 1::bigint AS id, NULL AS parent_id, ARRAY[]::bigint[]"
        " AS mentions, 5 AS name, now() AS at"
    )
    with pytest.raises(msgspec.ValidationError, match="name"):
        record_to(Row, record)
