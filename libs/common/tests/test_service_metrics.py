"""/metrics tells what the alerts ask: whether each dependency answers, the DB pool, the
outbox backlog and Redis's memory, sampled by the service itself against the real servers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from harmoniq_common.app import create_service_app
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.platform import Platform
from harmoniq_common.service_metrics import sample_once
from harmoniq_common.settings import CommonSettings
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.waiting import eventually

# A service with nothing but the shared tables (the outbox).
PROBE = ServiceSchema("probe", "probe", Path(__file__).parent / "empty_migrations")


def _probe(settings: CommonSettings) -> Litestar:
    return create_service_app(settings, route_handlers=[], title="probe")


async def _samples(client: AsyncTestClient[Any]) -> dict[tuple[str, tuple[str, ...]], float]:
    text = (await client.get("/metrics")).text
    return {
        (sample.name, tuple(sorted(f"{k}={v}" for k, v in sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_the_sampled_gauges_describe_this_instance(service_app: ServiceApp) -> None:
    client = await service_app(
        _probe, CommonSettings, PROBE, service="probe", metrics_sample_seconds=0.05,
        database_pool_max=7,
    )  # fmt: skip

    async def sampled() -> bool:
        return ("harmoniq_outbox_backlog", ("service=probe",)) in await _samples(client)

    await eventually(sampled, what="the first sample on /metrics")
    samples = await _samples(client)
    for dependency in ("postgres", "redis", "nats"):
        key = ("harmoniq_dependency_up", ("dependency=" + dependency, "service=probe"))
        assert samples[key] == 1.0, dependency
    assert samples[("harmoniq_db_pool_connections", ("service=probe", "state=max"))] == 7.0
    assert samples[("harmoniq_outbox_backlog", ("service=probe",))] == 0.0
    assert samples[("harmoniq_redis_used_memory_bytes", ("service=probe",))] > 0

    # Redis gone: the next sample says so, and the scrape still answers at once.
    platform: Platform = client.app.state.platform
    working, platform.redis = platform.redis, Redis(host="127.0.0.1", port=1)
    try:
        # In the app's loop (the portal's thread), as its sampler runs.
        await asyncio.to_thread(client.blocking_portal.call, sample_once, platform)
        samples = await _samples(client)
        assert samples[("harmoniq_dependency_up", ("dependency=redis", "service=probe"))] == 0.0
        assert samples[("harmoniq_dependency_up", ("dependency=postgres", "service=probe"))] == 1.0
    finally:
        broken, platform.redis = platform.redis, working

        async def close() -> None:
            await broken.aclose()

        await asyncio.to_thread(client.blocking_portal.call, close)
