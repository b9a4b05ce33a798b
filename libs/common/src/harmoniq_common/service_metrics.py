"""What every service reports about its own state, beside the per-request metrics Litestar's
Prometheus plugin gives: whether its dependencies answer, its database pool, its outbox backlog,
Redis's memory. The alerts and dashboards in ``deploy/monitoring`` query exactly these.

Sampled every ``metrics_sample_seconds`` by one task per process, not on each scrape: a scrape
must stay cheap and never wait on a dependency that is down. Consumer lag is reported by each
:class:`~.consumers.DurableConsumer` itself, from the pending count JetStream puts on every
delivery (``harmoniq_consumer_pending``).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from prometheus_client import Gauge

from .platform import Platform

__all__ = ["DEPENDENCY_UP", "OUTBOX_BACKLOG", "sample_forever", "sample_once"]

log = structlog.get_logger(__name__)

DEPENDENCY_UP = Gauge(
    "harmoniq_dependency_up",
    "1 when the dependency answered this instance's last check, else 0",
    ["service", "dependency"],
)
DB_POOL_CONNECTIONS = Gauge(
    "harmoniq_db_pool_connections",
    "This instance's Postgres pool: connections in use, idle, and its maximum",
    ["service", "state"],
)
OUTBOX_BACKLOG = Gauge(
    "harmoniq_outbox_backlog",
    "Committed events not yet published to JetStream (the service's whole outbox)",
    ["service"],
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "harmoniq_outbox_oldest_seconds",
    "Age of the oldest event waiting in the outbox (0 when empty)",
    ["service"],
)
REDIS_USED_MEMORY = Gauge(
    "harmoniq_redis_used_memory_bytes", "Redis's used_memory as this instance sees it", ["service"]
)

_CHECK_TIMEOUT_SECONDS = 2.0


async def sample_once(platform: Platform) -> None:
    service = platform.settings.service
    DEPENDENCY_UP.labels(service, "nats").set(1 if platform.nats.is_connected else 0)
    pool = platform.pool
    in_use = pool.get_size() - pool.get_idle_size()
    DB_POOL_CONNECTIONS.labels(service, "in_use").set(in_use)
    DB_POOL_CONNECTIONS.labels(service, "idle").set(pool.get_idle_size())
    DB_POOL_CONNECTIONS.labels(service, "max").set(pool.get_max_size())
    try:
        backlog, oldest = await pool.fetchrow(
            """SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
               FROM outbox""",
            timeout=_CHECK_TIMEOUT_SECONDS,
        )
        OUTBOX_BACKLOG.labels(service).set(backlog)
        OUTBOX_OLDEST_SECONDS.labels(service).set(float(oldest))
        DEPENDENCY_UP.labels(service, "postgres").set(1)
    except Exception:
        DEPENDENCY_UP.labels(service, "postgres").set(0)
    try:
        memory = await asyncio.wait_for(platform.redis.info("memory"), _CHECK_TIMEOUT_SECONDS)
        REDIS_USED_MEMORY.labels(service).set(memory["used_memory"])
        DEPENDENCY_UP.labels(service, "redis").set(1)
    except Exception:
        DEPENDENCY_UP.labels(service, "redis").set(0)


async def sample_forever(platform: Platform, interval: float) -> None:
    while True:
        with contextlib.suppress(Exception):  # a sample that failed is simply the last one
            await sample_once(platform)
        await asyncio.sleep(interval)
