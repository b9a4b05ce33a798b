"""Snowflake ids: 64-bit, time-ordered, unique across every instance of every service.

Layout (most significant first): 41 bits of milliseconds since :data:`EPOCH_MS`, 10 bits of
worker id, 12 bits of per-millisecond sequence. The worker id is leased from Redis
(``SET NX PX``) so two instances of one service never share one; the lease is renewed in the
background and a generator whose lease is lost refuses to mint ids rather than risk a collision.
JSON carries ids as strings (JavaScript loses precision past 2**53); Postgres keeps ``bigint``.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from typing import Any

import structlog
from redis.asyncio import Redis

__all__ = [
    "EPOCH_MS",
    "MAX_WORKER_ID",
    "Snowflake",
    "SnowflakeGenerator",
    "WorkerLease",
    "WorkerLeaseLost",
    "lowest_snowflake_at",
    "snowflake_time_ms",
]

EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER_ID = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1

log = structlog.get_logger(__name__)


class Snowflake(int):
    """An id; its own type so the JSON encoders can write it as a string."""

    __slots__ = ()

    @classmethod
    def parse(cls, value: Any) -> Snowflake:
        """Accept ``"123"`` or ``123``; reject anything that is not a positive 63-bit integer."""
        if isinstance(value, bool):
            raise ValueError("an id is a decimal string")
        if isinstance(value, str):
            if not value.isdecimal() or len(value) > 19:
                raise ValueError("an id is a decimal string of at most 19 digits")
            value = int(value)
        if not isinstance(value, int) or not 0 < value < 1 << 63:
            raise ValueError("an id is a positive 63-bit integer")
        return cls(value)


def lowest_snowflake_at(time_ms: int) -> Snowflake:
    """The smallest id minted at or after ``time_ms`` (Unix ms): a cursor for "since then"."""
    return Snowflake(max(0, time_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS))


def snowflake_time_ms(snowflake: int) -> int:
    """Unix milliseconds at which ``snowflake`` was minted."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


class WorkerLeaseLost(RuntimeError):
    """The Redis lease on this generator's worker id expired; minting would risk duplicates."""


class SnowflakeGenerator:
    """Mints ids for one worker id; thread-safe because ids are also minted off-loop."""

    def __init__(self, worker_id: int) -> None:
        if not 0 <= worker_id <= MAX_WORKER_ID:
            raise ValueError(f"worker id must be in 0..{MAX_WORKER_ID}")
        self.worker_id = worker_id
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()
        self.valid = True

    def next_id(self) -> Snowflake:
        if not self.valid:
            raise WorkerLeaseLost(f"worker id {self.worker_id} is no longer leased")
        with self._lock:
            now = time.time_ns() // 1_000_000 - EPOCH_MS
            # A clock that steps back must not reuse (ms, seq) pairs: stay on the last ms.
            now = max(now, self._last_ms)
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & MAX_SEQUENCE
                if self._sequence == 0:
                    while now <= self._last_ms:
                        now = time.time_ns() // 1_000_000 - EPOCH_MS
            else:
                self._sequence = 0
            self._last_ms = now
            return Snowflake(
                (now << (WORKER_BITS + SEQUENCE_BITS))
                | (self.worker_id << SEQUENCE_BITS)
                | self._sequence
            )


class WorkerLease:
    """Holds ``{namespace}:snowflake:worker:{n}`` in Redis for as long as the process runs.

    One key space for the whole fleet, so an id is unique fleet-wide, not only per service.
    The renewal runs every third of the TTL; the TTL bounds how long a dead instance's worker
    id stays reserved.
    """

    def __init__(
        self, redis: Redis, namespace: str, *, ttl_ms: int = 30_000, owner: str | None = None
    ) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:snowflake:worker:"
        self._ttl_ms = ttl_ms
        self._owner = owner or secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None
        self.generator: SnowflakeGenerator | None = None

    async def acquire(self) -> SnowflakeGenerator:
        start = secrets.randbelow(MAX_WORKER_ID + 1)
        for offset in range(MAX_WORKER_ID + 1):
            worker = (start + offset) % (MAX_WORKER_ID + 1)
            if await self._redis.set(
                self._prefix + str(worker), self._owner, nx=True, px=self._ttl_ms
            ):
                self.generator = SnowflakeGenerator(worker)
                self._task = asyncio.create_task(self._renew(worker), name="snowflake-lease")
                log.info("snowflake.worker_leased", worker_id=worker)
                return self.generator
        raise RuntimeError("no free snowflake worker id: more than 1024 live instances?")

    _RENEW = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        return redis.call('PEXPIRE', KEYS[1], ARGV[2])
    end
    return 0
    """

    async def renew_once(self) -> bool:
        """Extend the lease; on finding it taken, invalidate the generator and say so."""
        assert self.generator is not None
        key = self._prefix + str(self.generator.worker_id)
        renewed = await self._redis.eval(self._RENEW, 1, key, self._owner, self._ttl_ms)
        if not renewed:
            self.generator.valid = False
            log.error("snowflake.lease_lost", worker_id=self.generator.worker_id)
        return bool(renewed)

    async def _renew(self, worker: int) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                if not await self.renew_once():
                    return
            except Exception:  # Redis blip: keep trying while the lease still has time left.
                log.warning("snowflake.lease_renew_failed", worker_id=worker, exc_info=True)

    async def release(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.generator is not None:
            await self._redis.eval(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) end return 0",
                1,
                self._prefix + str(self.generator.worker_id),
                self._owner,
            )
