"""What every service's OpenAPI document says about errors, authentication and ids.

Written once here rather than on each of the routes: :func:`document_errors` gives every
operation the error answers it can really give, each with the one error body
(:class:`~.errors.ErrorBody`), from what the route is:

    every route            400 (input policy), 429 (nginx's per-address guard, the route's
                           own limits), 503 (a dependency is down)
    authenticated routes   401 (no, bad, expired or revoked token), 403 (permissions, or the
                           kind of account); and the ``bearer``/``bot`` security schemes
    a path parameter       404 (unknown, or invisible to the caller: both look the same)
    a JSON body            413 (past ``request_max_body_size``), 415 (not application/json)

A route that answers more (409 on a taken username, 401 on wrong credentials of an open
route) says so on its decorator with ``responses=error_responses(...)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Litestar
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Components, Schema, SecurityScheme
from litestar.routes import HTTPRoute
from litestar.typing import FieldDefinition

from .errors import ErrorBody
from .validation import takes_json_body

__all__ = [
    "SECURITY_SCHEMES",
    "ClosedStructSchema",
    "document_errors",
    "error_responses",
]

_MEANING = {
    400: "Invalid input: a parameter, header or body field (named in `errors`).",
    401: "Authentication failed: no token, or a bad, expired or revoked one.",
    403: "The caller may not do this (a permission, the role hierarchy, the account's kind).",
    404: "Unknown, or not visible to the caller (the two look the same).",
    409: "Conflicts with what exists (e.g. a name already taken).",
    413: "The body is larger than the service accepts.",
    415: "The body is not `application/json` (UTF-8).",
    429: "Too many requests: wait `Retry-After` seconds.",
    503: "A dependency is unavailable: try again shortly.",
}

BEARER = "bearer"
BOT = "bot"
SECURITY_SCHEMES = Components(
    security_schemes={
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="A user's access token: `Authorization: Bearer <token>`.",
        ),
        BOT: SecurityScheme(
            type="apiKey",
            name="Authorization",
            security_scheme_in="header",
            description="A bot's token: `Authorization: Bot <token>`.",
        ),
    }
)


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The error answers ``statuses``, with the error body, for a route's ``responses=``."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, description=_MEANING[status], generate_examples=False
        )
        for status in statuses
    }


def document_errors(app: Litestar, auth_excluded: Sequence[str]) -> None:
    """Give every HTTP operation of ``app`` its error answers and security requirements.

    Runs once the routes exist and before the document is first built (Litestar builds it
    lazily, on the first request for it)."""
    excluded = [re.compile(pattern) for pattern in auth_excluded]
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            statuses = {400, 429, 503}
            open_route = handler.opt.get("exclude_from_auth") or any(
                pattern.search(route.path) for pattern in excluded
            )
            if not open_route:
                statuses |= {401, 403}
                handler.security = [{BEARER: []}, {BOT: []}]
            if route.path_parameters:
                statuses.add(404)
            if takes_json_body(handler):
                statuses |= {413, 415}
            handler.responses = {**error_responses(*sorted(statuses)), **(handler.responses or {})}


class ClosedStructSchema(StructSchemaPlugin):
    """Request bodies refuse unknown fields (``forbid_unknown_fields``): the schema says so
    (``additionalProperties: false``), which Litestar's own Struct plugin leaves out."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema
