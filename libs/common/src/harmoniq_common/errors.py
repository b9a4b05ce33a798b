"""The one error model of every Harmoniq service.

Every failure leaves a service as the same JSON body::

    {"code": "invalid_request", "message": "human readable",
     "errors": [{"field": "...", "message": "..."}]}

Hierarchy (raise these from handlers and domain code)::

    ApiError                        any status, any code
    ├── BadRequest            400   invalid_request
    ├── Unauthorized          401   unauthorized
    ├── Forbidden             403   forbidden
    ├── NotFound              404   not_found
    ├── Conflict              409   conflict
    ├── PayloadTooLarge       413   payload_too_large
    ├── UnsupportedMediaType  415   unsupported_media_type
    ├── RateLimited           429   rate_limited (carries Retry-After / X-RateLimit-* headers)
    └── ServiceUnavailable    503   unavailable

Litestar's own exceptions (validation, 404 route, 405, body too large) are mapped onto the
same body by :func:`exception_handlers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec
import nats.errors
import redis.exceptions
import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap

from .error_tracking import capture_exception
from .logging import correlation_id

__all__ = [
    "DEPENDENCY_FAILURES",
    "ApiError",
    "BadRequest",
    "Conflict",
    "ErrorBody",
    "FieldError",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "exception_handlers",
]

log = structlog.get_logger(__name__)


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str
    errors: list[FieldError] = []


class ApiError(Exception):
    status_code = 400
    code = "error"
    default_message = "request failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
        status_code: int | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.errors = errors or []
        self.headers = dict(headers or {})
        super().__init__(self.message)

    @classmethod
    def for_field(cls, field: str, message: str, **kwargs: Any) -> ApiError:
        return cls(message, errors=[FieldError(field, message)], **kwargs)


class BadRequest(ApiError):
    status_code = 400
    code = "invalid_request"
    default_message = "the request is invalid"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"
    default_message = "authentication required"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"
    default_message = "you are not allowed to do this"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"
    default_message = "not found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"
    default_message = "conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"
    default_message = "the request body is too large"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = "send the body as application/json"


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"
    default_message = "too many requests, slow down"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "unavailable"
    default_message = "the service is temporarily unavailable"


_CODES_BY_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


def _respond(status: int, body: ErrorBody, headers: Mapping[str, str] | None) -> Response[Any]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        media_type=MediaType.JSON,
        headers=dict(headers or {}),
    )


def _api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[Any]:
    return _respond(exc.status_code, ErrorBody(exc.code, exc.message, exc.errors), exc.headers)


def _validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, Mapping):
            errors.append(FieldError(str(item.get("key") or "body"), str(item.get("message"))))
    message = "the request is invalid"
    if errors:
        message = f"{errors[0].field}: {errors[0].message}"
    return _respond(400, ErrorBody("invalid_request", message, errors), exc.headers)


def _http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    code = _CODES_BY_STATUS.get(status, "error" if status < 500 else "internal_error")
    detail = exc.detail if status < 500 else "internal error"
    return _respond(status, ErrorBody(code, detail), exc.headers)


def _unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("http.unhandled_error", path=request.url.path, error=str(exc))
    capture_exception(
        exc,
        tags={"route": str(request.scope.get("path_template", "")), "method": request.method},
        request={
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "correlation_id": correlation_id(),
        },
    )
    return _respond(
        HTTP_500_INTERNAL_SERVER_ERROR, ErrorBody("internal_error", "internal error"), None
    )


# A dependency that is down or restarting (Postgres, Redis, NATS) is a 503 "try again", not a
# 500: the request changed nothing (its transaction, if any, did not commit) and will work
# once the dependency is back. Connection failures only, never errors of the queries.
DEPENDENCY_FAILURES: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # the connection broke, or could not be made
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, recovering
    asyncpg.InterfaceError,  # "connection is closed" and the like
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    nats.errors.ConnectionClosedError,
    nats.errors.NoServersError,
    nats.errors.StaleConnectionError,
    nats.errors.TimeoutError,
    ConnectionError,  # OSError's connection family: refused, reset, aborted
    TimeoutError,  # waiting for a pool's connection
)


def _dependency_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("http.dependency_unavailable", path=request.url.path, error=repr(exc))
    return _respond(
        503,
        ErrorBody("unavailable", "a service this request needs is unavailable, try again"),
        {"Retry-After": "1"},
    )


def exception_handlers() -> ExceptionHandlersMap:
    """Handlers for every exception a service may leak; most specific first."""
    return {
        ApiError: _api_error,
        ValidationException: _validation_error,
        HTTPException: _http_error,
        **dict.fromkeys(DEPENDENCY_FAILURES, _dependency_unavailable),
        Exception: _unexpected_error,
    }
