"""Ids in paths and queries, typed: Litestar decodes them, a bad one is a 400 naming it.

A handler declares ``server_id: Snowflake`` for a ``{server_id:str}`` path segment (or a query
parameter) and gets a :class:`~.ids.Snowflake`. :func:`~.app.create_service_app` registers
:data:`TYPE_DECODERS`, so Litestar hands the raw string to :meth:`Snowflake.parse`; its
``ValueError`` becomes Litestar's ``ValidationException`` for that parameter, which
:mod:`.errors` answers with the one error body (``errors: [{"field": "server_id", …}]``).
:class:`IdSchemaPlugin` makes OpenAPI show these parameters (and every ``Snowflake`` field of a
body or answer) as strings of digits instead of an empty schema.

Two spellings of the public API have their own types:

- :class:`SnowflakeOrMe`: a user id segment where ``@me`` stands for the caller
  (``/servers/{id}/members/@me``).
- :class:`IdCursor`: an exclusive ``after=`` position in id order, where ``0`` is "from the
  start" (the documented default of the guilds lists).

The path converter stays ``:str``: Litestar's own ``:int`` would accept ``-5`` and answer a
bare 404 for ``@me``; the type on the handler's parameter is what validates.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from litestar.openapi.spec import OpenAPIType, Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.types import TypeDecodersSequence
from litestar.typing import FieldDefinition

from .ids import Snowflake
from .validation import ID_PATTERN, anchored

__all__ = ["TYPE_DECODERS", "IdCursor", "IdSchemaPlugin", "SnowflakeOrMe"]


class SnowflakeOrMe:
    """A user id, or ``@me``: the caller, whoever they are."""

    __slots__ = ("id",)

    def __init__(self, id: Snowflake | None) -> None:
        self.id = id  # None: "@me"

    @classmethod
    def parse(cls, value: Any) -> SnowflakeOrMe:
        return cls(None) if value == "@me" else cls(Snowflake.parse(value))

    @property
    def is_me(self) -> bool:
        return self.id is None

    def resolve(self, caller: Snowflake) -> Snowflake:
        """The id this stands for when ``caller`` asks."""
        return caller if self.id is None else self.id

    def __repr__(self) -> str:
        return "SnowflakeOrMe(@me)" if self.id is None else f"SnowflakeOrMe({self.id})"


class IdCursor(int):
    """``after=``: rows with a greater id; ``0`` (before every id) or an id."""

    __slots__ = ()

    @classmethod
    def parse(cls, value: Any) -> IdCursor:
        return cls(0) if value in ("0", 0) else cls(Snowflake.parse(value))


def _decode(kind: type, value: Any) -> Any:
    # Snowflake.parse and the parsers above raise ValueError: Litestar reports it as a 400
    # for the parameter being decoded.
    return kind.parse(value)  # type: ignore[attr-defined]


TYPE_DECODERS: TypeDecodersSequence = [
    (lambda kind: kind in (Snowflake, SnowflakeOrMe, IdCursor), _decode)
]

_SCHEMAS = {
    Snowflake: Schema(
        type=OpenAPIType.STRING,
        pattern=ID_PATTERN,
        description="A snowflake id: a positive 63-bit integer written in decimal.",
        examples=["1234567890123456789"],
    ),
    SnowflakeOrMe: Schema(
        type=OpenAPIType.STRING,
        pattern=anchored("@me|[1-9][0-9]{0,18}"),
        description="A user id, or `@me` for the caller.",
        examples=["@me"],
    ),
    IdCursor: Schema(
        type=OpenAPIType.STRING,
        pattern=anchored("0|[1-9][0-9]{0,18}"),
        description="Only what comes after this id; `0` starts from the beginning.",
        examples=["0"],
    ),
}


class IdSchemaPlugin(OpenAPISchemaPlugin):
    """OpenAPI for the id types: strings of digits (msgspec would leave them as ``{}``)."""

    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return isinstance(value, type) and value in _SCHEMAS

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        # A copy: Litestar fills in the parameter's own default and description afterwards.
        schema = dataclasses.replace(_SCHEMAS[field_definition.annotation])
        if isinstance(field_definition.default, int):  # written as it travels: a string
            schema.default = str(field_definition.default)
        return schema
