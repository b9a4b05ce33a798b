"""Prometheus metrics and OpenTelemetry tracing, wired the same way in every service.

HTTP spans and request metrics come from Litestar's own plugins; this module adds what they
do not: a tracer provider per process, and trace-context propagation through NATS headers so
one trace follows a request from the HTTP edge through every event it causes.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping, MutableMapping

from litestar.enums import ScopeType
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.types import ASGIApp, Middleware, Receive, Scope, Send
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

__all__ = [
    "MetricsController",
    "TraceContextMiddleware",
    "extract_trace_context",
    "http_tracing_middleware",
    "inject_trace_context",
    "opentelemetry_config",
    "prometheus_config",
    "setup_tracing",
    "tracer",
]

_HEALTH_AND_METRICS = ["/health", "/metrics"]


def setup_tracing(
    service: str, exporter: str = "none", *, endpoint: str = "", sample_ratio: float = 1.0
) -> TracerProvider:
    """One provider per process. "otlp" sends spans (batched, off the event loop) to an OTLP/HTTP
    collector at ``endpoint``, keeping ``sample_ratio`` of new traces and whatever a sampled
    parent asks for; "console" prints them; "none" records nothing but still carries the
    trace context through HTTP and NATS, so a downstream service that exports joins the trace.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    sampler = ALWAYS_OFF if exporter == "none" else ParentBased(TraceIdRatioBased(sample_ratio))
    provider = TracerProvider(
        resource=Resource.create({"service.name": f"harmoniq-{service}"}), sampler=sampler
    )
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return provider


@functools.cache
def tracer() -> trace.Tracer:
    """The process's tracer, made once (``get_tracer`` builds a new one per call). Safe to
    keep from before :func:`setup_tracing`: it is then OpenTelemetry's proxy, which follows
    the provider set later."""
    return trace.get_tracer("harmoniq")


def http_tracing_middleware(exporter: str) -> Middleware:
    """OpenTelemetry's ASGI middleware (a span per request) when spans go somewhere;
    :class:`TraceContextMiddleware` when they go nowhere, which carries the trace context on
    at a small part of the cost (issue #15: the OpenTelemetry layers were ~9 % of a send)."""
    return TraceContextMiddleware if exporter == "none" else opentelemetry_config().middleware


_NOT_SAMPLED = trace.TraceFlags(trace.TraceFlags.DEFAULT)
_TRACE_HEADERS = (b"traceparent", b"tracestate")


class TraceContextMiddleware:
    """The W3C trace context of an HTTP request without recording anything: the caller's
    trace continues (its trace id and ``tracestate``; a new span id for this hop, not
    sampled, as OpenTelemetry's SDK does with nothing to export), or a new trace starts, so
    the NATS messages and outbox rows the request causes carry a ``traceparent``
    (:func:`inject_trace_context`) and a downstream service that exports joins the trace.
    Pure ASGI: one context attach per request, no span, no wrapped send/receive."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in _TRACE_HEADERS
        }
        caller = trace.INVALID_SPAN_CONTEXT
        if carrier:  # OpenTelemetry's own propagator judges the header (invalid: none)
            caller = trace.get_current_span(extract_trace_context(carrier)).get_span_context()
        span = trace.NonRecordingSpan(
            trace.SpanContext(
                trace_id=caller.trace_id if caller.is_valid else random.getrandbits(128) or 1,
                span_id=random.getrandbits(64) or 1,
                is_remote=False,
                trace_flags=_NOT_SAMPLED,
                trace_state=caller.trace_state if caller.is_valid else None,
            )
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


def opentelemetry_config() -> OpenTelemetryConfig:
    # HTTP only, one span per request: a span per WebSocket frame (and per ASGI send/receive)
    # cost the gateway over half of its CPU per delivered event, for nothing a trace needs.
    return OpenTelemetryConfig(
        exclude=_HEALTH_AND_METRICS,
        scopes={ScopeType.HTTP},
        exclude_spans=["receive", "send"],
    )


def prometheus_config(service: str) -> PrometheusConfig:
    return PrometheusConfig(
        app_name=f"harmoniq-{service}",
        prefix="harmoniq",
        group_path=True,
        exclude=_HEALTH_AND_METRICS,
        scopes={ScopeType.HTTP},
        labels={"service": service},
    )


class MetricsController(PrometheusController):
    path = "/metrics"
    include_in_schema = False


def inject_trace_context(headers: MutableMapping[str, str]) -> None:
    """Write the current span's ``traceparent`` into outgoing NATS headers."""
    propagate.inject(headers)


def extract_trace_context(headers: Mapping[str, str] | None) -> otel_context.Context:
    """The context to start a consumer span under, from an incoming NATS message."""
    return propagate.extract(dict(headers or {}))
