"""Snowflake ids: 64-bit, time-ordered, unique across every instance of every service.

Layout (most significant first): 41 bits of milliseconds since :data:`EPOCH_MS`, 10 bits of
worker id, 12 bits of per-millisecond sequence. The worker id is leased from Redis
(``SET NX PX``) so two instances never share one; the lease is confirmed every second, a
generator whose lease is unconfirmed refuses to mint rather than risk a collision, and a lost
lease (Redis restarted empty) is taken again: see :class:`WorkerLease`.
JSON carries ids as strings (JavaScript loses precision past 2**53); Postgres keeps ``bigint``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import secrets
import threading
import time
from typing import Any

import structlog
from redis.asyncio import Redis

from .errors import ServiceUnavailable

__all__ = [
    "EPOCH_MS",
    "INCARNATION_KEY",
    "MAX_SNOWFLAKE_TIME_MS",
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
TIME_BITS = 63 - WORKER_BITS - SEQUENCE_BITS  # 41: ids stay positive in Postgres' bigint
# The last millisecond an id can carry (2095-09-07T15:47:35.551Z).
MAX_SNOWFLAKE_TIME_MS = EPOCH_MS + (1 << TIME_BITS) - 1

log = structlog.get_logger(__name__)


class Snowflake(int):
    """An id; its own type so the JSON encoders can write it as a string."""

    __slots__ = ()

    @classmethod
    def parse(cls, value: Any) -> Snowflake:
        """Accept ``"123"`` or ``123``; reject anything that is not a positive 63-bit integer.

        ASCII digits only: ``str.isdecimal`` also takes other scripts' digits ("١٢٣"), which
        ``int`` reads as the same id, a look-alike of ``"123"``."""
        if isinstance(value, bool):
            raise ValueError("an id is a decimal string")
        if isinstance(value, str):
            if not (value.isascii() and value.isdecimal()) or len(value) > 19:
                raise ValueError("an id is a decimal string of at most 19 digits")
            value = int(value)
        if not isinstance(value, int) or not 0 < value < 1 << 63:
            raise ValueError("an id is a positive 63-bit integer")
        return cls(value)


def lowest_snowflake_at(time_ms: int) -> Snowflake:
    """The smallest id minted at or after ``time_ms`` (Unix ms): a cursor for "since then".

    Times before the epoch give 0; times past :data:`MAX_SNOWFLAKE_TIME_MS` have no id."""
    if time_ms > MAX_SNOWFLAKE_TIME_MS:
        raise ValueError("no snowflake id is that late")
    return Snowflake(max(0, time_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS))


def snowflake_time_ms(snowflake: int) -> int:
    """Unix milliseconds at which ``snowflake`` was minted."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


class WorkerLeaseLost(ServiceUnavailable):
    """This generator cannot prove it still holds its worker id; minting could duplicate ids.

    A 503 (try again shortly) at every door: the lease comes back by itself within seconds.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, code="ids_unavailable", headers={"Retry-After": "1"})


class SnowflakeGenerator:
    """Mints ids for one worker id; thread-safe because ids are also minted off-loop.

    A generator made by hand (tests, tools) may mint for ever; one held by a
    :class:`WorkerLease` mints only inside the window the lease has proved: from
    ``not_before`` (a new lease waits out any holder that may not know it lost the id yet)
    until ``valid_until`` (the last confirmation of the lease plus its validity), both in
    :func:`time.monotonic` seconds.
    """

    def __init__(self, worker_id: int) -> None:
        if not 0 <= worker_id <= MAX_WORKER_ID:
            raise ValueError(f"worker id must be in 0..{MAX_WORKER_ID}")
        self.worker_id = worker_id
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()
        self.not_before = 0.0
        self.valid_until = math.inf

    @property
    def valid(self) -> bool:
        """Whether :meth:`next_id` would mint right now."""
        return self.not_before <= time.monotonic() < self.valid_until

    def rebind(self, worker_id: int, not_before: float, valid_until: float) -> None:
        """Mint under another (or the same, re-leased) worker id from ``not_before`` on."""
        with self._lock:
            if worker_id != self.worker_id:
                self.worker_id = worker_id
                self._last_ms = -1
                self._sequence = 0
            self.not_before = not_before
            self.valid_until = valid_until

    def next_id(self) -> Snowflake:
        with self._lock:
            if not self.valid:
                raise WorkerLeaseLost(f"worker id {self.worker_id} is not leased right now")
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


# Describes the Redis data set itself, not one fleet: deliberately outside every namespace.
INCARNATION_KEY = "harmoniq:redis:incarnation"


class WorkerLease:
    """Holds ``{namespace}:snowflake:worker:{n}`` in Redis for as long as the process runs.

    One key space for the whole fleet, so an id is unique fleet-wide, not only per service.

    Redis may restart empty (compose runs it without persistence) or be flushed. Then every
    holder's key is gone, and a newcomer could take a worker id that a live holder still
    mints with. Two rules close that gap:

    * A holder mints only while its lease is *confirmed*: it re-checks ownership every
      ``renew_interval`` seconds and mints for at most ``validity`` seconds after the last
      confirmation was sent. When Redis cannot answer it stops minting once that runs out
      (writes fail with 503, as they do anyway while tokens cannot be checked); when it finds
      its key gone or taken it leases again at once.
    * Redis remembers when its data set was born (:data:`INCARNATION_KEY`, written by the first
      lease after a loss, read with Redis's clock). A lease taken less than ``validity`` plus a
      margin after that birth waits until then before minting: by that time every holder from
      before the loss has run out of confirmation. On a Redis that has lived longer (the
      normal case) a new lease mints at once.

    The key's TTL only bounds how long a dead instance's worker id stays reserved.
    """

    _ACQUIRE = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local born = tonumber(redis.call('GET', KEYS[2]))
    if not born then
        born = now
        redis.call('SET', KEYS[2], now)
    end
    if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
        return math.max(0, born + tonumber(ARGV[3]) - now)
    end
    return -1
    """

    _RENEW = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then
        return redis.call('PEXPIRE', KEYS[1], ARGV[2])
    end
    return 0
    """

    def __init__(
        self,
        redis: Redis,
        namespace: str,
        *,
        ttl_ms: int = 30_000,
        renew_interval: float = 1.0,
        validity: float = 5.0,
        owner: str | None = None,
    ) -> None:
        if not renew_interval < validity < ttl_ms / 1000:
            raise ValueError("need renew_interval < validity < ttl")
        self._redis = redis
        self._prefix = f"{namespace}:snowflake:worker:"
        self._ttl_ms = ttl_ms
        self._renew_interval = renew_interval
        self._validity = validity
        self._owner = owner or secrets.token_hex(8)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.generator: SnowflakeGenerator | None = None

    @property
    def _guard_ms(self) -> int:
        return int((self._validity + 1.0) * 1000)

    async def acquire(self) -> SnowflakeGenerator:
        """Lease a worker id, start renewing it, and return once its generator may mint."""
        sent_at = time.monotonic()
        worker, wait = await self._lease(prefer=None)
        self.generator = SnowflakeGenerator(worker)
        self._confirmed(worker, sent_at, wait)
        self._task = asyncio.create_task(self._hold(), name="snowflake-lease")
        log.info("snowflake.worker_leased", worker_id=worker, wait_ms=wait)
        if wait:
            await asyncio.sleep(wait / 1000)  # the window of a holder from before a Redis loss
        return self.generator

    async def _lease(self, prefer: int | None) -> tuple[int, int]:
        """A free worker id (``prefer`` first) and how many ms to wait before minting."""
        start = secrets.randbelow(MAX_WORKER_ID + 1) if prefer is None else prefer
        for offset in range(MAX_WORKER_ID + 1):
            worker = (start + offset) % (MAX_WORKER_ID + 1)
            wait = await self._redis.eval(
                self._ACQUIRE,
                2,
                self._prefix + str(worker),
                INCARNATION_KEY,
                self._owner,
                self._ttl_ms,
                self._guard_ms,
            )
            if int(wait) >= 0:
                return worker, int(wait)
        raise RuntimeError("no free snowflake worker id: more than 1024 live instances?")

    def _confirmed(self, worker: int, sent_at: float, wait_ms: int | None = None) -> None:
        """The lease was confirmed by a call sent at ``sent_at``; a new one (``wait_ms`` given)
        mints from ``wait_ms`` after the answer, counted from now (later than Redis's clock)."""
        assert self.generator is not None
        not_before = self.generator.not_before
        if wait_ms is not None:
            not_before = time.monotonic() + wait_ms / 1000
        self.generator.rebind(worker, not_before, sent_at + self._validity)

    async def renew_once(self) -> bool:
        """Confirm and extend the lease; on finding it gone or taken, stop minting, say so."""
        assert self.generator is not None
        worker = self.generator.worker_id
        sent_at = time.monotonic()
        renewed = await self._redis.eval(
            self._RENEW, 1, self._prefix + str(worker), self._owner, self._ttl_ms
        )
        if renewed:
            self._confirmed(worker, sent_at)
            return True
        self.generator.rebind(worker, self.generator.not_before, 0.0)
        log.error("snowflake.lease_lost", worker_id=worker)
        return False

    async def _hold(self) -> None:
        """Renew for ever; lease again (the same id if it is free) whenever the lease is lost.

        Stopped by event, not cancellation: a cancellation can be swallowed inside a Redis call.
        """
        assert self.generator is not None
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._renew_interval)
                return
            try:
                if await self.renew_once():
                    continue
                sent_at = time.monotonic()
                worker, wait = await self._lease(prefer=self.generator.worker_id)
                self._confirmed(worker, sent_at, wait)
                log.warning("snowflake.worker_leased_again", worker_id=worker, wait_ms=wait)
            except Exception:  # Redis away: the generator stops by itself when validity ends.
                log.warning(
                    "snowflake.lease_renew_failed",
                    worker_id=self.generator.worker_id,
                    exc_info=True,
                )

    def stop_renewing(self) -> None:
        """Stop confirming the lease (it lapses after ``validity``); :meth:`release` also does."""
        self._stopping.set()

    async def release(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        if self.generator is not None:
            await self._redis.eval(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then "
                "return redis.call('DEL', KEYS[1]) end return 0",
                1,
                self._prefix + str(self.generator.worker_id),
                self._owner,
            )
