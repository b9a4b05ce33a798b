"""The input policy's building blocks: patterns that anchor, depth without recursion, NUL paths."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import jsonschema_rs
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec import Meta

from harmoniq_common.errors import BadRequest
from harmoniq_common.ids import MAX_SNOWFLAKE_TIME_MS, Snowflake, lowest_snowflake_at
from harmoniq_common.validation import (
    MAX_JSON_DEPTH,
    SingleLine,
    Text,
    anchored,
    find_nul,
    nested_deeper_than,
    single_line,
    snowflake_time,
)

Word = Annotated[str, Meta(pattern=anchored("[a-z]+"))]


def _accepts(kind: Any, value: str) -> bool:
    try:
        msgspec.convert(value, kind)
    except msgspec.ValidationError:
        return False
    return True


def test_a_dollar_pattern_lets_a_final_newline_through_and_anchored_does_not() -> None:
    """Why anchored() exists: msgspec applies patterns with re.search, and $ matches before a
    final newline, so "alice\\n" passed the old username pattern."""
    assert _accepts(Annotated[str, Meta(pattern="^[a-z]+$")], "alice\n")
    assert not _accepts(Word, "alice\n")
    assert not _accepts(Word, "\nalice")
    assert not _accepts(Word, "alice bob")
    assert _accepts(Word, "alice")


def test_anchored_means_the_same_to_a_json_schema_validator() -> None:
    """Clients read the OpenAPI patterns as ECMA-262 regexes (jsonschema-rs here), where
    \\Z is not an anchor at all: anchored() must mean "the whole string" there too."""
    schema = jsonschema_rs.validator_for({"type": "string", "pattern": anchored("[a-z]+")})
    assert schema.is_valid("alice")
    assert not schema.is_valid("alice\n")
    assert not schema.is_valid("x alice")
    with pytest.raises(jsonschema_rs.ValidationError):
        jsonschema_rs.validator_for({"type": "string", "pattern": r"^[a-z]+\Z"})


@pytest.mark.parametrize(
    ("value", "line", "text"),
    [
        ("plain words", True, True),
        ("ünïcødé 名前 🎉", True, True),
        ("two\nlines", False, True),
        ("tab\there", False, True),
        ("crlf\r\n", False, True),
        ("nul\x00", False, False),
        ("escape\x1b[31m", False, False),
        ("delete\x7f", False, False),
        ("next line\x85", False, False),
        ("", True, True),
    ],
)
def test_single_line_and_text_refuse_control_characters(value: str, line: bool, text: bool) -> None:
    assert _accepts(SingleLine, value) is line
    assert _accepts(Text, value) is text


def test_single_line_check_names_the_field() -> None:
    assert single_line("X-Audit-Log-Reason", "spam") == "spam"
    with pytest.raises(BadRequest) as caught:
        single_line("X-Audit-Log-Reason", "spam\nInjected: yes")
    assert caught.value.errors[0].field == "X-Audit-Log-Reason"


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


json_values = st.recursive(
    st.none() | st.integers() | st.text(alphabet='ab[]{}"\\\n'),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(alphabet='k[]{}"\\', max_size=3), children, max_size=3)
    ),
    max_leaves=60,
)


@given(json_values, st.integers(min_value=0, max_value=8))
def test_nested_deeper_than_agrees_with_the_decoded_depth(value: Any, limit: int) -> None:
    """Brackets inside strings (escaped quotes included) do not count."""
    raw = json.dumps(value).encode()
    assert nested_deeper_than(raw, limit) == (_depth(value) > limit)


def test_a_deep_document_is_found_without_decoding_it() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert nested_deeper_than(deep)
    assert not nested_deeper_than(b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH)
    with pytest.raises(RecursionError):  # what the decoder does with it, hence the check
        msgspec.json.decode(deep)


def test_find_nul_names_the_path() -> None:
    assert find_nul({"name": "ok", "roles": [{"id": "1"}, {"id": "2\x00"}]}) == "roles[1].id"
    assert find_nul([{"id": "\x00"}]) == "[0].id"
    assert find_nul({"ke\x00y": 1}) == "ke\x00y"
    assert find_nul("\x00") == "body"
    assert find_nul({"name": "fine", "n": 1, "ok": None}) is None


def test_times_outside_what_a_snowflake_holds_are_refused() -> None:
    assert snowflake_time("before", None) is None
    naive = snowflake_time("before", datetime(2026, 5, 1))
    assert naive == datetime(2026, 5, 1, tzinfo=UTC)
    for far in (datetime(9999, 12, 31, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)):
        with pytest.raises(BadRequest) as caught:
            snowflake_time("before", far)
        assert caught.value.errors[0].field == "before"
    last = datetime.fromtimestamp(MAX_SNOWFLAKE_TIME_MS / 1000, UTC)
    assert snowflake_time("after", last) == last
    assert lowest_snowflake_at(MAX_SNOWFLAKE_TIME_MS) < 1 << 63
    with pytest.raises(ValueError):
        lowest_snowflake_at(MAX_SNOWFLAKE_TIME_MS + 1)


@pytest.mark.parametrize(
    "value",
    ["\u0661\u0662\u0663", "\uff11\uff12\uff13", "123\n", " 123", "0x7b", "99999999999999999999"],
)
def test_ids_are_ascii_digits_only(value: str) -> None:
    """Other scripts' digits would be read by int() as the same id: a look-alike."""
    with pytest.raises(ValueError):
        Snowflake.parse(value)
    assert Snowflake.parse("123") == 123
