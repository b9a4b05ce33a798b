"""structlog JSON logging with a correlation id that follows a request across services.

The id arrives as ``X-Request-Id`` (nginx sets one when the client did not), is bound in a
context variable for the life of the request (every log line written meanwhile carries it), is
echoed on the response, and is copied into the headers of every NATS message published while
it is bound (see :mod:`.bus`), where the receiving side binds it again.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from contextvars import ContextVar
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .error_tracking import scrub_text

__all__ = [
    "CORRELATION_HEADER",
    "CorrelationIdMiddleware",
    "bind_correlation_id",
    "configure_logging",
    "correlation_id",
    "new_correlation_id",
]

CORRELATION_HEADER = "X-Request-Id"
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_correlation_id: ContextVar[str | None] = ContextVar("harmoniq_correlation_id", default=None)


def configure_logging(service: str, level: str = "INFO", *, json: bool = True) -> None:
    """Route stdlib and structlog records through one JSON (or console) renderer on stdout."""
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_correlation_id,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _scrub_exception,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.contextvars.bind_contextvars(service=service)


def _add_correlation_id(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """The bound correlation id on every line, read when a line is written: binding it into
    structlog's contextvars on every request instead cost ~3 % of a send's CPU (issue #15),
    for the few requests that log anything."""
    cid = _correlation_id.get()
    if cid is not None:
        event.setdefault("correlation_id", cid)
    return event


def _scrub_exception(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """A traceback quotes exception messages, which may quote a token or a password: cut them
    out as error tracking does (only here: the other fields are ours, and never hold one)."""
    if "exception" in event:
        event["exception"] = scrub_text(str(event["exception"]))
    return event


def new_correlation_id() -> str:
    return secrets.token_hex(16)


def correlation_id() -> str | None:
    return _correlation_id.get()


def bind_correlation_id(value: str | None) -> str:
    """Bind ``value`` (or a fresh id if it is missing or malformed) for this context."""
    cid = value if value and _VALID_ID.match(value) else new_correlation_id()
    _correlation_id.set(cid)
    return cid


class CorrelationIdMiddleware:
    """Pure ASGI so it wraps everything, errors included, at no per-request object cost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        cid = bind_correlation_id(incoming)
        header = (b"x-request-id", cid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            # A WebSocket's sends are frames, not a response to label: leave them unwrapped.
            await self.app(
                scope, receive, send_with_id if scope["type"] == ScopeType.HTTP else send
            )
        finally:
            _correlation_id.set(None)
