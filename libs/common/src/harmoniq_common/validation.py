"""The one input policy of every Harmoniq service and the gateway: what is refused, and where.

Refused before any work, with a 400 naming the field (``docs/api.md``, "Input rules")::

    everywhere      NUL (U+0000): Postgres ``text`` cannot hold it, so a NUL that got in would
                    come back as a database error. Any string of a JSON body, at any depth.
    query, path     every control character (C0 and DEL): parameters are single words, ids,
    and headers     cursors; a header may keep a tab (RFC 9110 field values).
    single-line     names, usernames, nicknames, topics (``SingleLine``): no control character
                    at all (Unicode Cc: C0, DEL, C1), so a name always shows as it was typed.
    multi-line      message content, descriptions, reasons (``Text``): Cc except tab, line
                    feed and carriage return.

Patterns anchor for real (:func:`anchored`): msgspec applies ``pattern`` with ``re.search``,
and Python's ``$`` also matches before a final newline, so ``^[a-z]+$`` accepts ``"alice\\n"``.
A JSON body must be UTF-8 JSON (415 for another ``Content-Type``), at most
:data:`MAX_JSON_DEPTH` levels deep; times that become snowflake cursors must lie where a
snowflake can (:func:`snowflake_time`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request
from litestar.enums import RequestEncodingType
from litestar.exceptions import SerializationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg
from msgspec import Meta

from .errors import BadRequest, UnsupportedMediaType
from .ids import EPOCH_MS, MAX_SNOWFLAKE_TIME_MS

__all__ = [
    "BLANK_CHAR",
    "END",
    "ID_PATTERN",
    "LINE_CHAR",
    "MAX_JSON_DEPTH",
    "TEXT_CHAR",
    "VISIBLE_CHAR",
    "SingleLine",
    "Text",
    "anchored",
    "check_request",
    "find_nul",
    "nested_deeper_than",
    "single_line",
    "snowflake_time",
    "takes_json_body",
]

# The end of the string in both dialects a pattern is read in: Python's ``re`` (msgspec's
# check, where ``$`` also matches before a final "\n" and ``\Z`` is the end) and ECMA-262
# (JSON Schema's, which clients of the OpenAPI document use, where ``\Z`` means "Z").
END = r"(?![\s\S])"
# One character of a single-line field: anything but Unicode Cc (C0, DEL, C1).
LINE_CHAR = r"[^\x00-\x1f\x7f-\x9f]"
# One character of multi-line text: Cc but tab, line feed and carriage return are refused.
TEXT_CHAR = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
# White space that text may hold (tab, line feed, carriage return, spaces) and a character
# that shows something: disjoint, so BLANK*VISIBLE patterns run in linear time.
BLANK_CHAR = r"[^\S\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
VISIBLE_CHAR = r"[^\s\x00-\x1f\x7f-\x9f]"

MAX_JSON_DEPTH = 32  # our bodies nest 3 levels; the decoder recurses once per level


def anchored(body: str) -> str:
    """A pattern that the whole string must match (``re.search`` and ECMA-262 alike)."""
    return f"^(?:{body}){END}"


# A snowflake id as JSON and query strings carry it (a positive 63-bit integer).
ID_PATTERN = anchored("[1-9][0-9]{0,18}")

SingleLine = Annotated[
    str, Meta(pattern=anchored(f"{LINE_CHAR}*"), description="no control characters")
]
Text = Annotated[
    str,
    Meta(pattern=anchored(f"{TEXT_CHAR}*"), description="no control characters but \\t \\n \\r"),
]

_HEADER_CONTROLS = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_PARAMETER_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_LINE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def single_line(field: str, value: str) -> str:
    """``value`` if it holds no control character, else a 400 naming ``field``."""
    if _LINE_CONTROLS.search(value):
        raise BadRequest.for_field(field, "must not contain control characters")
    return value


def snowflake_time(field: str, value: datetime | None) -> datetime | None:
    """A time that becomes an id cursor, within the ids' range (2026-01-01 to 2095), or a 400.

    A time without a zone is UTC, as every time of the API is."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    ms = int(value.timestamp() * 1000)
    if not EPOCH_MS <= ms <= MAX_SNOWFLAKE_TIME_MS:
        low = datetime.fromtimestamp(EPOCH_MS / 1000, UTC).isoformat()
        high = datetime.fromtimestamp(MAX_SNOWFLAKE_TIME_MS / 1000, UTC).isoformat()
        raise BadRequest.for_field(field, f"must lie between {low} and {high}")
    return value


# -- JSON bodies (and gateway frames) -----------------------------------------------------

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"[\[{][\]}]")


def nested_deeper_than(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text opens more than ``limit`` arrays/objects inside one another.

    Read from the bytes, before decoding: the decoder recurses once per level, so a deep
    document would cost a stack overflow (``RecursionError``) rather than a clear answer."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    # Each pass removes every innermost pair: after ``limit`` passes a bracket is left only
    # where more than ``limit`` levels were open (or where the text is not JSON anyway).
    for _ in range(limit):
        brackets, removed = _INNERMOST.subn(b"", brackets)
        if not removed:
            break
    return b"[" in brackets or b"{" in brackets


def find_nul(value: Any, path: str = "") -> str | None:
    """The path (``name``, ``items[2].id``) of the first string holding NUL, if any."""
    for where, text in _strings(value, path):
        if "\x00" in text:
            return where or "body"
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            yield where, str(key)
            yield from _strings(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


# -- the request hook ----------------------------------------------------------------------


async def check_request(request: Request[Any, Any, Any]) -> None:
    """Litestar ``before_request`` hook: runs after routing and authentication, before the
    handler's parameters are parsed, so every refusal here happens before any work."""
    for name, value in request.path_params.items():
        if isinstance(value, str) and _PARAMETER_CONTROLS.search(value):
            raise BadRequest.for_field(name, "must not contain control characters")
    for name, value in request.query_params.multi_items():
        if _PARAMETER_CONTROLS.search(name) or _PARAMETER_CONTROLS.search(value):
            raise BadRequest.for_field(name, "must not contain control characters")
    for raw_name, raw_value in request.scope["headers"]:
        if _HEADER_CONTROLS.search(raw_value):
            name = raw_name.decode("latin-1").title()  # as documented: X-Audit-Log-Reason
            raise BadRequest.for_field(name, "header values must not contain control characters")
    if takes_json_body(request.route_handler):
        await _check_json_body(request)


def takes_json_body(handler: HTTPRouteHandler) -> bool:
    """Whether the route decodes a JSON body (its ``data`` parameter, JSON by default)."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return False
    kwarg = data.kwarg_definition
    media = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return bool(media == RequestEncodingType.JSON)


async def _check_json_body(request: Request[Any, Any, Any]) -> None:
    raw = await request.body()  # 413 past request_max_body_size
    if not raw:
        return  # no body: the handler's own signature says whether one was required
    media_type, options = request.content_type
    if not (media_type == "application/json" or media_type.endswith("+json")) or options.get(
        "charset", "utf-8"
    ).lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"send the body as application/json (UTF-8), not {media_type or 'untyped'}"
        )
    if nested_deeper_than(raw):
        raise BadRequest(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        decoded = await request.json()  # cached: the handler's parameters reuse it
    except UnicodeDecodeError:
        raise BadRequest("the body is not valid UTF-8") from None
    except RecursionError:
        raise BadRequest(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except SerializationException as exc:
        raise BadRequest(str(exc)) from None
    if b"\\u0000" in raw and (field := find_nul(decoded)) is not None:
        raise BadRequest.for_field(field, "must not contain NUL (U+0000)")
