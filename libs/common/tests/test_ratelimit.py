"""GCRA limits: exact under concurrency, shared by replicas, with correct headers."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from harmoniq_common.errors import RateLimited
from harmoniq_common.ratelimit import RateLimit, RateLimiter
from harmoniq_common.testing.infra import Infra

RULE = RateLimit("test", limit=5, period_seconds=60)


async def test_burst_then_refused_with_retry_after(redis_client: Redis, namespace: str) -> None:
    limiter = RateLimiter(redis_client, namespace)
    decisions = [await limiter.hit(RULE, "k") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
    refused = decisions[5].headers()
    assert refused["X-RateLimit-Limit"] == "5"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused["Retry-After"]) <= 12


async def test_exact_under_concurrency_across_replicas(
    harmoniq_infra: Infra, redis_client: Redis, namespace: str
) -> None:
    """Two limiter instances (two replicas) racing on one key admit exactly the limit."""
    other = Redis.from_url(harmoniq_infra.redis_url)
    try:
        replicas = [RateLimiter(redis_client, namespace), RateLimiter(other, namespace)]
        rule = RateLimit("race", limit=50, period_seconds=3600)
        results = await asyncio.gather(*(replicas[i % 2].hit(rule, "k") for i in range(200)))
    finally:
        await other.aclose()
    assert sum(d.allowed for d in results) == 50


async def test_enforce_checks_every_key(redis_client: Redis, namespace: str) -> None:
    limiter = RateLimiter(redis_client, namespace)
    rule = RateLimit("multi", limit=2, period_seconds=60)
    await limiter.enforce(rule, "ip:1", "acct:a")
    await limiter.enforce(rule, "ip:2", "acct:a")
    with pytest.raises(RateLimited) as caught:
        await limiter.enforce(rule, "ip:3", "acct:a")
    assert "Retry-After" in caught.value.headers
    await limiter.enforce(rule, "ip:3", "acct:b")


async def test_keys_are_namespaced(redis_client: Redis, namespace: str) -> None:
    await RateLimiter(redis_client, namespace).hit(RULE, "k")
    assert await redis_client.exists(f"{namespace}:rl:test:k")
