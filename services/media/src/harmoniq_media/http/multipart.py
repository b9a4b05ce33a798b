"""An upload form read from the request's stream, never whole: fields first, then one file.

Parsing is done by ``multipart``'s ``PushMultipartParser`` (the parser Litestar itself uses,
already in the dependency tree): sans-IO, it turns each received chunk into events, so the
file's bytes pass through one chunk at a time. Fields must come before the file (browsers
and HTTP clients send them in form order), so ``purpose`` is known when the file starts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar.datastructures.headers import Headers
from multipart import MultipartError, MultipartSegment, PushMultipartParser, parse_options_header

from harmoniq_common.errors import BadRequest, PayloadTooLarge

from ..domain.uploads import FileUpload

__all__ = ["read_upload_form"]

_MAX_FIELD_BYTES = 1024
_MAX_FIELDS = 8


async def _events(stream: AsyncIterator[bytes], parser: PushMultipartParser) -> AsyncIterator[Any]:
    try:
        async for chunk in stream:
            for event in parser.parse(chunk):
                yield event
        for event in parser.parse(b""):
            yield event
    except MultipartError as error:
        raise BadRequest(f"the multipart body is malformed: {error}") from error


async def read_upload_form(
    headers: Headers, stream: AsyncIterator[bytes], max_file_bytes: int
) -> tuple[dict[str, str], FileUpload]:
    """The fields before the file, and the file, whose chunks stop with a 413 past the limit."""
    media_type, options = parse_options_header(headers.get("content-type", ""))
    if media_type != "multipart/form-data" or not options.get("boundary"):
        raise BadRequest(
            "send the file as multipart/form-data", status_code=415, code="unsupported_media_type"
        )
    parser = PushMultipartParser(
        options["boundary"], max_header_count=8, max_segment_count=_MAX_FIELDS + 1
    )
    events = _events(stream, parser)
    fields: dict[str, str] = {}
    name, value = "", bytearray()
    async for event in events:
        if isinstance(event, MultipartSegment):
            if event.filename is not None:
                if event.name != "file":
                    raise BadRequest.for_field(
                        event.name or "file", "the file part must be named 'file'"
                    )
                return fields, FileUpload(
                    event.filename, event.content_type, _file_body(events, max_file_bytes)
                )
            name, value = event.name or "", bytearray()
        elif isinstance(event, bytes | bytearray):
            value += event
            if len(value) > _MAX_FIELD_BYTES:
                raise BadRequest.for_field(name, "this field is too long")
        else:  # None: the end of a field
            fields[name] = value.decode(errors="replace")
    raise BadRequest.for_field("file", "no file part: send one file, after the other fields")


async def _file_body(events: AsyncIterator[Any], limit: int) -> AsyncIterator[bytes]:
    size = 0
    async for event in events:
        if event is None:
            break
        size += len(event)
        if size > limit:
            raise PayloadTooLarge(
                f"the file is over the limit of {limit} bytes", code="file_too_large"
            )
        yield bytes(event)
    async for event in events:  # the closing boundary; anything more is a second part
        if isinstance(event, MultipartSegment):
            raise BadRequest.for_field("file", "send one file per upload")
