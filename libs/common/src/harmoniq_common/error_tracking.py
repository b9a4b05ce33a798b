"""Error tracking: unexpected errors to Sentry (or GlitchTip, which speaks its protocol) when
``HARMONIQ_SENTRY_DSN`` is set, scrubbed of credentials before they leave the process.

Only what a person must look at is sent: a request's unexpected error (the 500 handler) and an
event a consumer failed on for the last time, each with the service, instance and correlation
id. Sentry's
automatic integrations stay off: logging would report every warning twice, and its tracing
would duplicate OpenTelemetry's. Scrubbing is by key anywhere in the event (sentry-sdk's
denylist plus ours: authorization, cookie, password, token…) and by value: bearer and bot
tokens, JWTs and ``password=…`` pairs are cut out of every string, exception messages included.

sentry-sdk is imported only when a DSN is set: it is a tenth of a service's start-up imports,
and a process that never set up a client has nothing to report to.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from functools import cache
from typing import Any

from .settings import CommonSettings

__all__ = ["capture_exception", "scrub_text", "setup_error_tracking"]

FILTERED = "[Filtered]"
_OUR_DENYLIST = ("refresh_token", "access_token", "x-request-signature")
_SECRETS = re.compile(
    r"(?i)\b(?:bearer|bot)\s+[A-Za-z0-9._~+/=-]{8,}"  # Authorization header values
    r"|\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"  # a JWT anywhere
    r"|\b(?:password|passwd|secret|token)\s*[=:]\s*\S+"  # key=value in a message
)


def scrub_text(text: str) -> str:
    return _SECRETS.sub(FILTERED, text)


@cache
def _denylists() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(keys, PII keys) the scrubbers drop: sentry-sdk's defaults plus ours."""
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST

    return (*DEFAULT_DENYLIST, *_OUR_DENYLIST), tuple(DEFAULT_PII_DENYLIST)


@cache
def _denied_keys() -> frozenset[str]:
    keys, pii = _denylists()
    return frozenset(key.lower() for key in [*keys, *pii])


def _scrub_values(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [_scrub_values(item) for item in value]
    if isinstance(value, dict):
        return {
            key: FILTERED if str(key).lower() in _denied_keys() else _scrub_values(item)
            for key, item in value.items()
        }
    return value


def _before_send(event: Any, _hint: Any) -> Any:
    return _scrub_values(event)


def setup_error_tracking(settings: CommonSettings) -> bool:
    """Start the client when a DSN is configured; whether it did."""
    if not settings.sentry_dsn:
        return False
    import sentry_sdk
    from sentry_sdk.scrubber import EventScrubber

    denylist, pii_denylist = _denylists()
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.env,
        server_name=settings.instance_id,
        sample_rate=settings.sentry_sample_rate,
        default_integrations=False,
        auto_enabling_integrations=False,
        # Frames' local variables hold raw ASGI scopes, headers and bodies, under names no
        # denylist knows: never sent.
        include_local_variables=False,
        event_scrubber=EventScrubber(
            denylist=list(denylist), recursive=True, pii_denylist=list(pii_denylist)
        ),
        before_send=_before_send,
        max_request_body_size="never",
    )
    sentry_sdk.set_tag("service", settings.service)
    return True


def capture_exception(
    error: BaseException, *, tags: Mapping[str, str], request: Mapping[str, Any] | None = None
) -> None:
    """Report ``error`` (a no-op while no DSN is set), with ``tags`` and the request's
    method, path and headers, which the scrubbers clean."""
    sentry_sdk = sys.modules.get("sentry_sdk")
    if sentry_sdk is None:  # never imported, so never set up
        return
    with sentry_sdk.new_scope() as scope:
        for key, value in tags.items():
            scope.set_tag(key, value)
        if request is not None:
            scope.set_context("request", dict(request))
        sentry_sdk.capture_exception(error)
