"""Properties of the GCRA limiter against real Redis, over arbitrary request schedules.

The script reads Redis's clock, which a test cannot set, so each hit is bracketed by two
readings of that clock (``TIME`` before and after): the script's "now" lies between them. A
model of GCRA run on those brackets knows, for each request, whether it *must* be admitted,
*must* be refused, or (its now falling on a boundary) may go either way; the limiter has to
agree whenever the model is sure. Intervals of a few milliseconds keep real schedules short.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from harmoniq_common.ratelimit import RateLimit, RateLimiter


@dataclass
class Step:
    gap_ms: int  # waited before the request
    cost: int


@dataclass
class Schedule:
    limit: int
    interval_ms: int
    steps: list[Step]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    limit = draw(st.integers(min_value=1, max_value=6))
    interval_ms = draw(st.integers(min_value=3, max_value=15))
    steps = draw(
        st.lists(
            st.builds(
                Step,
                gap_ms=st.sampled_from(
                    [0, 0, 0, 1, 2, interval_ms // 2, interval_ms, 2 * interval_ms]
                ),
                cost=st.integers(min_value=1, max_value=limit),
            ),
            min_size=1,
            max_size=16,
        )
    )
    return Schedule(limit, interval_ms, steps)


@dataclass
class Model:
    """GCRA with the theoretical arrival time known only within bounds (Redis's ms)."""

    interval: int
    tolerance: int
    tat_low: int = 0
    tat_high: int = 0

    def must_admit(self, cost: int, before: int) -> bool:
        # Latest the allowance can be: the highest tat; earliest "now": ``before``.
        allow_at = (
            max(self.tat_high, before) + self.interval * cost - self.tolerance - self.interval
        )
        return allow_at <= before

    def must_refuse(self, cost: int, after: int) -> bool:
        allow_at = max(self.tat_low, after) + self.interval * cost - self.tolerance - self.interval
        return allow_at > after

    def admitted(self, cost: int, before: int, after: int) -> None:
        self.tat_low = max(self.tat_low, before) + self.interval * cost
        self.tat_high = max(self.tat_high, after) + self.interval * cost


async def _redis_ms(redis: Redis) -> int:
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000  # as the script floors it


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(schedule=schedules())
async def test_admits_exactly_what_gcra_allows(
    redis_client: Redis, namespace: str, schedule: Schedule
) -> None:
    limiter = RateLimiter(redis_client, namespace)
    rule = RateLimit(
        "property",
        limit=schedule.limit,
        period_seconds=schedule.limit * schedule.interval_ms / 1000,
    )
    assert rule.interval_ms == schedule.interval_ms
    key = secrets.token_hex(8)  # a fresh bucket per example
    model = Model(interval=rule.interval_ms, tolerance=rule.interval_ms * (rule.limit - 1))
    spent = 0
    first = None
    for step in schedule.steps:
        await asyncio.sleep(step.gap_ms / 1000)  # the schedule itself, not synchronisation
        before = await _redis_ms(redis_client)
        first = before if first is None else first
        decision = await limiter.hit(rule, key, cost=step.cost)
        after = await _redis_ms(redis_client)
        if model.must_admit(step.cost, before):
            assert decision.allowed, (step, model, before)
        if model.must_refuse(step.cost, after):
            assert not decision.allowed, (step, model, after)
        if decision.allowed:
            model.admitted(step.cost, before, after)
            spent += step.cost
            # Never more than the burst plus what the elapsed time has earned since the first.
            assert spent <= rule.limit + (after - first) // rule.interval_ms
            assert decision.retry_after_seconds == 0
        else:
            assert decision.retry_after_seconds > 0
        assert 0 <= decision.remaining <= rule.limit


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    limit=st.integers(min_value=1, max_value=20),
    requests=st.integers(min_value=1, max_value=60),
    replicas=st.integers(min_value=1, max_value=4),
)
async def test_a_burst_from_any_number_of_replicas_admits_at_most_the_limit(
    redis_client: Redis, namespace: str, limit: int, requests: int, replicas: int
) -> None:
    """At once, from several limiter objects (replicas) on one key: exactly min(n, limit)
    admitted, the first ones (a refused request never spends anything)."""
    limiters = [RateLimiter(redis_client, namespace) for _ in range(replicas)]
    rule = RateLimit("burst", limit=limit, period_seconds=3600)
    key = secrets.token_hex(8)
    decisions = await asyncio.gather(
        *(limiters[i % replicas].hit(rule, key) for i in range(requests))
    )
    assert sum(d.allowed for d in decisions) == min(requests, limit)
    assert sorted(d.remaining for d in decisions if d.allowed) == list(
        range(limit - min(requests, limit), limit)
    )
