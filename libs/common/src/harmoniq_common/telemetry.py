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
    "extract_trace_context",
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


def tracer() -> trace.Tracer:
    return trace.get_tracer("harmoniq")


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
