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
    INCARNATION_KEY,
    MAX_WORKER_ID,
    Snowflake,
    SnowflakeGenerator,
    WorkerLease,
    WorkerLeaseLost,
    snowflake_time_ms,
)
from harmoniq_common.testing.waiting import eventually


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
    leases = [WorkerLease(redis_client, namespace, ttl_ms=3000, validity=2.0) for _ in range(20)]
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


async def test_a_lease_lost_with_redis_data_is_taken_again_and_newcomers_wait(
    redis_client: Redis, namespace: str
) -> None:
    """Redis restarted empty: the holder leases again and mints on; a newcomer that may take
    the same worker id mints only after every holder from before the loss has stopped."""
    validity = 1.0
    holder = WorkerLease(
        redis_client, namespace, ttl_ms=5000, renew_interval=0.1, validity=validity
    )
    generator = await holder.acquire()
    before = [generator.next_id() for _ in range(100)]
    worker = generator.worker_id

    # What a restart without persistence does to the keys the lease relies on.
    await redis_client.delete(f"{namespace}:snowflake:worker:{worker}", INCARNATION_KEY)
    lost_at = time.monotonic()
    await eventually(
        lambda: _async(not generator.valid), timeout=5, what="the holder noticing its loss"
    )
    # It leased again (its own id was free) but waits out the window of earlier holders.
    newcomer = WorkerLease(
        redis_client, namespace, ttl_ms=5000, renew_interval=0.1, validity=validity
    )
    newcomer_generator = await newcomer.acquire()
    assert time.monotonic() - lost_at >= validity, "a newcomer minted inside the danger window"
    assert newcomer_generator.worker_id != worker
    await eventually(lambda: _async(generator.valid), timeout=5, what="minting again")
    assert time.monotonic() - lost_at >= validity
    assert generator.worker_id == worker
    after = [generator.next_id() for _ in range(100)]
    assert before + after == sorted(set(before + after))
    assert await redis_client.get(f"{namespace}:snowflake:worker:{worker}") is not None
    for lease in (holder, newcomer):
        await lease.release()


async def test_a_holder_that_cannot_confirm_its_lease_stops_minting(
    redis_client: Redis, namespace: str
) -> None:
    """Confirmation lapses (Redis unreachable, or the loop too busy to renew): no ids."""
    lease = WorkerLease(redis_client, namespace, ttl_ms=5000, renew_interval=0.1, validity=0.5)
    generator = await lease.acquire()
    generator.next_id()
    lease.stop_renewing()  # as when Redis cannot be reached: no more confirmations
    await eventually(lambda: _async(not generator.valid), timeout=3, what="the lease lapsing")
    with pytest.raises(WorkerLeaseLost):
        generator.next_id()
    await lease.release()


async def _async(value: bool) -> bool:
    return value
