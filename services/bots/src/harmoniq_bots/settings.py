"""Settings of the bots service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from harmoniq_common.settings import CommonSettings

__all__ = ["BotsSettings"]


class BotsSettings(CommonSettings, frozen=True, kw_only=True):
    service: str = "bots"
    # Executions admitted per webhook in each window (Discord's figure: 5 per 2 seconds),
    # shared by every instance through Redis.
    webhook_execute_rate_limit: int = 5
    webhook_execute_rate_period_seconds: float = 2.0
    # Webhooks a channel may hold (Discord's figure).
    max_webhooks_per_channel: int = 15
    # Outgoing webhooks (events POSTed to an endpoint, signed). Private, loopback and
    # link-local targets are refused unless allowed (a development receiver; never in
    # production: SSRF).
    outgoing_allow_private_targets: bool = False
    outgoing_max_attempts: int = 6  # a delivery's tries before it is given up
    outgoing_retry_base_seconds: float = 2.0  # retry n waits base * 2**(n-1)
    outgoing_disable_after_failures: int = 5  # deliveries given up in a row
    outgoing_timeout_seconds: float = 5.0
    max_outgoing_endpoints_per_server: int = 10
    # Fan-out remembers which servers have no enabled endpoint (most of them) so their events
    # cost no query. Changes are announced to every instance over NATS; a lost announcement
    # is covered by this TTL, the longest a new endpoint may miss events (0: no cache).
    outgoing_no_endpoints_ttl_seconds: float = 2.0
    # Servers remembered per process, least recently used dropped first (about 170 bytes
    # each: 17 MB at the default).
    outgoing_no_endpoints_max_servers: int = 100_000
