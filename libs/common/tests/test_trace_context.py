"""Without an exporter, requests carry the W3C trace context on without OpenTelemetry's
middleware: what they publish names the caller's trace, or a new one."""

from __future__ import annotations

import re
from typing import Any

from litestar.plugins.opentelemetry import OpenTelemetryConfig

from harmoniq_common.bus import outgoing_headers
from harmoniq_common.telemetry import TraceContextMiddleware, http_tracing_middleware

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-00")


async def _published_headers(request_headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The headers a NATS message published while handling such a request would carry."""
    seen: dict[str, str] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(outgoing_headers())

    scope = {"type": "http", "headers": request_headers}
    await TraceContextMiddleware(app)(scope, None, None)  # type: ignore[arg-type]
    assert outgoing_headers().get("traceparent") is None  # nothing left behind
    return seen


async def test_the_callers_trace_continues_under_a_new_span_not_sampled() -> None:
    caller = f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"
    headers = await _published_headers(
        [(b"traceparent", caller.encode()), (b"tracestate", b"vendor=opaque")]
    )
    found = TRACEPARENT.fullmatch(headers["traceparent"])
    assert found is not None, headers
    assert found.group(1) == CALLER_TRACE and found.group(2) != "00f067aa0ba902b7"
    assert headers["tracestate"] == "vendor=opaque"


async def test_a_request_without_or_with_a_malformed_one_starts_a_new_trace() -> None:
    traces = set()
    for given in ([], [(b"traceparent", b"00-xyz-00f067aa0ba902b7-01")]):
        headers = await _published_headers(given)
        found = TRACEPARENT.fullmatch(headers["traceparent"])
        assert found is not None, headers
        assert found.group(1) != "0" * 32
        traces.add(found.group(1))
    assert len(traces) == 2


def test_with_an_exporter_the_opentelemetry_middleware_stays() -> None:
    assert http_tracing_middleware("none") is TraceContextMiddleware
    real = http_tracing_middleware("otlp")
    assert real is not TraceContextMiddleware
    assert real.middleware is OpenTelemetryConfig().middleware.middleware  # type: ignore[union-attr]
