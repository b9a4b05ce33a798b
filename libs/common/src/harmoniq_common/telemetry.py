"""Prometheus metrics and OpenTelemetry tracing, wired the same way in every service.

HTTP spans and request metrics come from Litestar's own plugins; this module adds what they
do not: a tracer provider per process, and trace-context propagation through NATS headers so
one trace follows a request from the HTTP edge through every event it causes.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from litestar.enums import ScopeType
from litestar.plugins.opentelemetry import OpenTelemetryConfig
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

__all__ = [
    "MetricsController",
    "extract_trace_context",
    "inject_trace_context",
    "opentelemetry_config",
    "prometheus_config",
    "setup_tracing",
]

_HEALTH_AND_METRICS = ["/health", "/metrics"]


def setup_tracing(service: str, exporter: str = "none") -> TracerProvider:
    """One provider per process; "console" prints spans, "none" keeps context only."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": f"harmoniq-{service}"}))
    if exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


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
