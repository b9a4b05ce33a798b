"""What the messages benchmark reads besides latencies: CPU per process, plans, profiles.

- :class:`CpuMeter` samples user+system CPU of the fleet's processes (and their children:
  Postgres backends, nginx workers) with psutil, so a run can say which process is busy.
- :func:`captured_sql` runs one of the service's own store functions against a connection that
  only records, so the plans shown are of the SQL the service really sends (not a copy of it).
- :func:`explain` runs ``EXPLAIN (ANALYZE, BUFFERS)`` on it, with the same parameters;
  :func:`explain_generic` does the same with the generic plan a cached statement may switch to.
- :func:`profile_areas` folds a cProfile dump into areas (Litestar, asyncpg, the service…).
"""

from __future__ import annotations

import contextlib
import os
import pstats
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import psutil

__all__ = [
    "OTHER",
    "CpuMeter",
    "Plan",
    "captured_sql",
    "explain",
    "explain_generic",
    "profile_areas",
]


MACHINE = "machine"
OTHER = "other processes"


class CpuMeter:
    """CPU seconds per named group of processes; each group is root pids plus descendants."""

    def __init__(self, groups: dict[str, list[int]], *, own: str | None = None) -> None:
        self._groups = groups
        self._own = own  # a group name for this process alone (its children are the fleet)

    def _group_seconds(self, pids: list[int], descendants: bool) -> float:
        total = 0.0
        for pid in pids:
            try:
                root = psutil.Process(pid)
                members = [root, *(root.children(recursive=True) if descendants else [])]
            except psutil.NoSuchProcess:
                continue
            for process in members:
                try:
                    times = process.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                total += times.user + times.system
        return total

    def sample(self) -> dict[str, float]:
        seconds = {
            name: self._group_seconds(pids, descendants=True) for name, pids in self._groups.items()
        }
        if self._own is not None:
            seconds[self._own] = self._group_seconds([os.getpid()], descendants=False)
        machine = psutil.cpu_times()
        seconds[MACHINE] = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return seconds

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """CPU seconds per group between two samples, and under ``OTHER`` what the rest of the
        machine used meanwhile (other people's work on a shared machine shows up there)."""
        spent = {name: after[name] - before.get(name, 0.0) for name in after if name != MACHINE}
        if MACHINE in after:
            spent[OTHER] = max(0.0, after[MACHINE] - before[MACHINE] - sum(spent.values()))
        return spent


class _Recorder:
    """Stands in for an asyncpg connection: remembers each statement, returns nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.calls.append((sql, args))
        return []

    async def fetchrow(self, sql: str, *args: Any) -> None:
        self.calls.append((sql, args))

    async def fetchval(self, sql: str, *args: Any) -> None:
        self.calls.append((sql, args))

    async def execute(self, sql: str, *args: Any) -> str:
        self.calls.append((sql, args))
        return "SELECT 0"

    def transaction(self, **_options: Any) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()


async def captured_sql(
    call: Callable[[Any], Awaitable[object]],
) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements ``call(conn)`` sends (it gets a recorder in place of a connection),
    without the session settings (``SET LOCAL …``) a store function wraps its query in."""
    recorder = _Recorder()
    await call(recorder)
    return [(sql, args) for sql, args in recorder.calls if not sql.startswith("SET ")]


@dataclass(frozen=True)
class Plan:
    lines: list[str]

    @property
    def execution_ms(self) -> float:
        for line in self.lines:
            found = re.search(r"Execution Time: ([0-9.]+) ms", line)
            if found:
                return float(found.group(1))
        return float("nan")

    @property
    def outline(self) -> list[str]:
        """Plan nodes only (no filter/buffer detail lines), costs dropped."""
        nodes = [line for line in self.lines if "->" in line or line == self.lines[0]]
        return [re.sub(r"  \(cost=[^)]*\)", "", node) for node in nodes]


async def explain(
    admin: asyncpg.Connection, sql: str, args: tuple[Any, ...], *, rollback: bool = False
) -> Plan:
    """``EXPLAIN (ANALYZE, BUFFERS)``, second run (the first warms the cache as the service's
    repeated requests do); ``rollback`` for writes."""
    text = f"EXPLAIN (ANALYZE, BUFFERS) {sql}"
    rows: list[Any] = []
    for _ in range(2):
        if rollback:
            transaction = admin.transaction()
            await transaction.start()
            try:
                rows = await admin.fetch(text, *args)
            finally:
                await transaction.rollback()
        else:
            rows = await admin.fetch(text, *args)
    return Plan([row[0] for row in rows])


_AREAS = [
    ("/harmoniq_messages/", "messages service code"),
    ("/harmoniq_common/", "harmoniq_common (auth, access, outbox, rate limit)"),
    ("/litestar/", "Litestar (routing, DI, parsing, responses)"),
    ("/asyncpg/", "asyncpg (Python part)"),
    ("asyncpg.", "asyncpg (Cython protocol, called from Python)"),
    ("/redis/", "redis-py"),
    ("/nats/", "nats-py (RPC, JetStream publish)"),
    ("/uvicorn/", "uvicorn + httptools"),
    ("httptools", "uvicorn + httptools"),
    ("/structlog/", "telemetry (structlog, OpenTelemetry, Prometheus)"),
    ("/opentelemetry/", "telemetry (structlog, OpenTelemetry, Prometheus)"),
    ("/prometheus_client/", "telemetry (structlog, OpenTelemetry, Prometheus)"),
    ("/jwt/", "JWT verification (PyJWT, cryptography)"),
    ("cryptography", "JWT verification (PyJWT, cryptography)"),
    ("msgspec", "msgspec (encode, decode, convert)"),
    ("/asyncio/", "asyncio (stdlib)"),
]
# Where uvloop waits (epoll) and runs its own C code and the C protocols it calls directly.
IDLE = "event loop (uvloop C code, epoll wait, C protocol parsing)"


def profile_areas(path: str) -> tuple[dict[str, float], list[tuple[str, float, int]]]:
    """(seconds of own time per area, top functions by own time) of a cProfile dump."""
    stats: Any = pstats.Stats(path).stats
    areas: dict[str, float] = {}
    top: list[tuple[str, float, int]] = []
    for (filename, line, name), (_cc, calls, tottime, _ct, _callers) in stats.items():
        where = f"{filename}:{line}({name})"
        # uvloop's loop is Cython, which cProfile does not see: its time (the epoll wait, and
        # the C protocol callbacks it makes) lands on asyncio.run, its Python caller.
        if filename.endswith("asyncio/runners.py") or "uvloop" in name:
            area = IDLE
        else:
            area = next((label for key, label in _AREAS if key in where), None) or (
                "other Python (stdlib, builtins)"
            )
        areas[area] = areas.get(area, 0.0) + tottime
        top.append((_short(filename, line, name), tottime, calls))
    top.sort(key=lambda item: item[1], reverse=True)
    return areas, top


def _short(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return name
    parts = filename.split("/site-packages/")
    tail = parts[-1] if len(parts) > 1 else "/".join(filename.split("/")[-3:])
    return f"{tail}:{line}({name})"


async def explain_generic(admin: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> Plan:
    """The plan a long-lived prepared statement can settle on: after five executions Postgres
    may switch a statement to one *generic* plan, made without the parameter values, and reuse
    it for every value after (asyncpg prepares and caches every statement it sends)."""
    statement = await admin.prepare(sql)
    types = [
        await admin.fetchval("SELECT format_type($1::oid, NULL)", parameter.oid)
        for parameter in statement.get_parameters()
    ]
    # EXECUTE takes no bind parameters: the values go in as literals, quoted by Postgres.
    literals = [
        await admin.fetchval(f"SELECT quote_literal($1::{kind}::text)", value) + f"::{kind}"
        for kind, value in zip(types, args, strict=True)
    ]
    name = f"bench_generic_{secrets.token_hex(4)}"
    await admin.execute(f"PREPARE {name} ({', '.join(types)}) AS {sql}")
    try:
        await admin.execute("SET plan_cache_mode = force_generic_plan")
        rows: list[Any] = []
        for _ in range(2):  # the second run, warm, as in explain()
            rows = await admin.fetch(
                f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE {name}({', '.join(literals)})"
            )
        return Plan([row[0] for row in rows])
    finally:
        await admin.execute("RESET plan_cache_mode")
        await admin.execute(f"DEALLOCATE {name}")
