"""The OpenAPI document tells the truth about errors, authentication, ids and closed bodies."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get, post
from litestar.params import FromPath, JSONBody

from harmoniq_common.app import create_service_app
from harmoniq_common.ids import Snowflake
from harmoniq_common.openapi import error_responses
from harmoniq_common.settings import CommonSettings


class Note(msgspec.Struct, forbid_unknown_fields=True):
    text: str
    author_id: Snowflake


@post("/notes", exclude_from_auth=True, responses=error_responses(409), sync_to_thread=False)
def create_note(data: JSONBody[Note]) -> Note:
    return data


@get("/notes/{note_id:str}", sync_to_thread=False)
def read_note(note_id: FromPath[str]) -> Note:
    return Note("", Snowflake(1))


def _document() -> dict[str, Any]:
    app = create_service_app(
        CommonSettings(log_json=False), route_handlers=[create_note, read_note], title="t"
    )
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def test_each_route_lists_the_errors_it_can_give_with_the_error_body() -> None:
    paths = _document()["paths"]
    open_with_body = paths["/notes"]["post"]["responses"]
    authenticated = paths["/notes/{note_id}"]["get"]["responses"]
    assert set(open_with_body) == {"201", "400", "409", "413", "415", "429", "503"}
    assert set(authenticated) == {"200", "400", "401", "403", "404", "429", "503"}
    for status, answer in [*open_with_body.items(), *authenticated.items()]:
        if status.startswith(("4", "5")):
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, status


def test_security_schemes_are_declared_where_a_token_is_needed() -> None:
    document = _document()
    assert set(document["components"]["securitySchemes"]) == {"bearer", "bot"}
    assert document["paths"]["/notes/{note_id}"]["get"]["security"] == [
        {"bearer": []},
        {"bot": []},
    ]
    assert "security" not in document["paths"]["/notes"]["post"]


def test_ids_are_strings_and_bodies_refuse_unknown_fields() -> None:
    note = _document()["components"]["schemas"]["Note"]
    assert note["additionalProperties"] is False
    assert note["properties"]["author_id"]["type"] == "string"
    assert note["properties"]["author_id"]["pattern"].startswith("^(?:[1-9]")
