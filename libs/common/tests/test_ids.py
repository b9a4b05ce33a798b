"""Snowflakes: unique, ordered, parseable; worker ids leased so instances never collide."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis

from harmoniq_common.ids import (
    EPOCH_MS,
    MAX_WORKER_ID,
    Snowflake,
    SnowflakeGenerator,
    WorkerLease,
    WorkerLeaseLost,
    snowflake_time_ms,
)


def test_ids_are_unique_and_increasing_even_across_threads() -> None:
    generator = SnowflakeGenerator(7)
    minted: list[list[int]] = [[] for _ in range(4)]

    def mint(bucket: list[int]) -> None:
        bucket.extend(generator.next_id() for _ in range(20_000))

    threads = [threading.Thread(target=mint, args=(b,)) for b in minted]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for bucket in minted for i in bucket]
    assert len(set(everything)) == len(everything)
    for bucket in minted:
        assert bucket == sorted(bucket)
    assert all((i >> 12) & MAX_WORKER_ID == 7 for i in everything)


def test_two_workers_never_collide() -> None:
    a, b = SnowflakeGenerator(1), SnowflakeGenerator(2)
    ids_a = {a.next_id() for _ in range(10_000)}
    ids_b = {b.next_id() for _ in range(10_000)}
    assert not ids_a & ids_b


def test_time_is_recoverable() -> None:
    """The minting time to the millisecond, and the worker id, read back from the id."""
    generator = SnowflakeGenerator(5)
    before = time.time_ns() // 1_000_000
    minted = generator.next_id()
    after = time.time_ns() // 1_000_000
    assert before <= snowflake_time_ms(minted) <= after
    assert (minted >> 12) & MAX_WORKER_ID == 5
    assert snowflake_time_ms(Snowflake(1 << 22)) == EPOCH_MS + 1  # one ms after the epoch


@given(st.integers(min_value=1, max_value=(1 << 63) - 1))
def test_parse_round_trips_every_valid_id(value: int) -> None:
    assert Snowflake.parse(str(value)) == value
    assert Snowflake.parse(value) == value


@pytest.mark.parametrize(
    "bad", ["", "abc", "-1", "0", "1e5", " 1", str(1 << 63), "1" * 20, True, 1.5, None]
)
def test_parse_rejects_garbage(bad: object) -> None:
    with pytest.raises(ValueError):
        Snowflake.parse(bad)


async def test_leases_give_distinct_workers_and_lost_lease_stops_minting(
    redis_client: Redis, namespace: str
) -> None:
    leases = [WorkerLease(redis_client, namespace, ttl_ms=3000) for _ in range(20)]
    generators = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert len({g.worker_id for g in generators}) == 20
    # Someone else's process took the key (our lease expired while we were partitioned):
    victim = leases[0]
    assert victim.generator is not None
    await redis_client.set(f"{namespace}:snowflake:worker:{victim.generator.worker_id}", "other")
    assert await victim.renew_once() is False
    with pytest.raises(WorkerLeaseLost):
        victim.generator.next_id()
    assert await leases[1].renew_once() is True
    for lease in leases:
        await lease.release()
    # Release deletes only what we own: the other process's key stays.
    remaining = await redis_client.keys(f"{namespace}:snowflake:worker:*")
    assert remaining == [f"{namespace}:snowflake:worker:{victim.generator.worker_id}".encode()]
