"""The gateway's own Prometheus metrics (served at ``/metrics`` with the HTTP ones)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CATCH_UPS",
    "CLOSES",
    "CONSUMER_REPLACEMENTS",
    "DISPATCH_LAG",
    "EVENTS",
    "RENEWAL_FAILURES",
    "SESSIONS",
    "SHED",
]

SESSIONS = Gauge("harmoniq_gateway_sessions", "Sessions connected to this instance")
EVENTS = Counter(
    "harmoniq_gateway_events_total", "Durable events this instance received and routed"
)
CLOSES = Counter(
    "harmoniq_gateway_closes_total", "Connections closed by the gateway, by close code", ["code"]
)
CONSUMER_REPLACEMENTS = Counter(
    "harmoniq_gateway_consumer_replacements_total",
    "Times this instance replaced its JetStream consumer (new subjects, or old resumes)",
)
CATCH_UPS = Counter(
    "harmoniq_gateway_catch_ups_total", "Sessions that joined behind and were replayed from memory"
)
RENEWAL_FAILURES = Counter(
    "harmoniq_gateway_renewal_failures_total",
    "Heartbeat renewals (resume record + presence expiry) that Redis did not take",
)
DISPATCH_LAG = Histogram(
    "harmoniq_gateway_dispatch_lag_seconds",
    "From the stream storing an event to this instance dispatching it to its sockets",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SHED = Counter(
    "harmoniq_gateway_shed_total",
    "Ephemeral events dropped because durable delivery was behind, by kind",
    ["kind"],
)
