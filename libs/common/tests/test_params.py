"""Typed ids in paths and queries: what each type accepts, and the 400 for what it does not."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar, get
from litestar.params import FromPath, FromQuery
from litestar.testing import AsyncTestClient

from harmoniq_common.errors import exception_handlers
from harmoniq_common.ids import Snowflake
from harmoniq_common.params import TYPE_DECODERS, IdCursor, IdSchemaPlugin, SnowflakeOrMe


def test_snowflake_or_me_stands_for_the_caller_or_an_id() -> None:
    caller = Snowflake(7)
    assert SnowflakeOrMe.parse("@me").is_me
    assert SnowflakeOrMe.parse("@me").resolve(caller) == caller
    assert SnowflakeOrMe.parse("42").resolve(caller) == 42
    for bad in ("me", "@ME", "", "-1", "0"):
        with pytest.raises(ValueError):
            SnowflakeOrMe.parse(bad)


def test_an_id_cursor_is_zero_or_an_id() -> None:
    assert IdCursor.parse("0") == 0
    assert IdCursor.parse("123") == 123
    for bad in ("00x", "-1", "1e3", "9" * 20, ""):
        with pytest.raises(ValueError):
            IdCursor.parse(bad)


@get("/things/{thing_id:str}/people/{person:str}", sync_to_thread=False)
def _read(
    thing_id: FromPath[Snowflake],
    person: FromPath[SnowflakeOrMe],
    after: FromQuery[IdCursor] = IdCursor(0),
) -> dict[str, str]:
    return {"thing": str(thing_id), "person": repr(person), "after": str(int(after))}


async def test_a_bad_id_is_a_400_naming_it_and_openapi_shows_digits() -> None:
    app = Litestar(
        [_read],
        type_decoders=TYPE_DECODERS,
        plugins=[IdSchemaPlugin()],
        exception_handlers=exception_handlers(),
    )
    async with AsyncTestClient(app) as client:
        ok = await client.get("/things/5/people/@me", params={"after": "9"})
        assert ok.json() == {"thing": "5", "person": "SnowflakeOrMe(@me)", "after": "9"}
        for url, params, field in (
            ("/things/x/people/@me", {}, "thing_id"),
            ("/things/5/people/me", {}, "person"),
            ("/things/5/people/@me", {"after": "-1"}, "after"),
        ):
            response = await client.get(url, params=params)
            assert response.status_code == 400, response.text
            body = response.json()
            assert body["code"] == "invalid_request"
            assert [e["field"] for e in body["errors"]] == [field]
    parameters = app.openapi_schema.to_schema()["paths"]["/things/{thing_id}/people/{person}"]
    schemas = {p["name"]: p["schema"] for p in parameters["get"]["parameters"]}

    # The patterns say what the decoders accept (anchored for JSON Schema's search semantics).
    def matches(name: str, value: str) -> bool:
        return re.search(schemas[name]["pattern"], value) is not None

    assert [matches("thing_id", v) for v in ("5", "9" * 19, "0", "5\n", "-1", "x5")] == [
        True, True, False, False, False, False,
    ]  # fmt: skip
    assert [matches("person", v) for v in ("@me", "5", "@you", "@me\n")] == [
        True, True, False, False,
    ]  # fmt: skip
    assert (schemas["after"]["type"], schemas["after"]["default"]) == ("string", "0")
