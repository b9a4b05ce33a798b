"""Messages: send throughput and latency, history and search on a very large channel, and
where the time goes.

Starts the fleet on its own database and namespace (embedded Postgres/Redis/NATS, as the auth
benchmark does), then:

1. registers an owner and 32 members, one server with two text channels;
2. COPYs 1,000,000 messages (``--rows``) into the server's "general" channel
   (``messages_corpus``), rebuilds the indexes, ``VACUUM ANALYZE``;
3. sends through nginx into "chat": 500 messages at concurrency 1 (one sender), then 2,000 at
   32 (32 senders, each its own user and connection, all in the same channel), with the CPU
   each process used;
4. reads "general" through nginx: the newest page, pages before cursors scattered through the
   older half, and searches (English stems, a rare word, Chinese, Japanese, a substring, with
   and without filters, channel and server wide), with ``EXPLAIN (ANALYZE, BUFFERS)`` of the
   service's own SQL for each;
5. profiles the send path on an extra, instrumented messages instance (``messages_profiled``):
   wall-clock stage timers, then cProfile.

Lifted for the run, since otherwise they would be what is measured: the send limit (5 per 5 s
per user and channel), the register limit, and nginx's 50 r/s per-address guard (all the load
comes from 127.0.0.1). Every run is bounded by a request count and a time limit. Loopback only.
The load generator runs on uvloop with a minimal HTTP client (``messages_load.Connection``), so
that as little as possible of the two cores goes to it; its CPU is reported with the rest.
Plans, profiles and the figures as JSON go to ``.bench/messages/``.

``.venv/bin/python bench/messages_bench.py [--quick]`` (100,000 rows, fewer requests, ~1 min).
For experiments: ``--no-profile``, ``--messages-instances N``, ``--env HARMONIQ_X=VALUE`` (e.g.
``HARMONIQ_DATABASE_POOL_MAX=40``), ``--locale C.UTF-8`` (the database with a libc locale
instead of initdb's C, which decides whether pg_trgm indexes CJK text).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop

from harmoniq_common.testing.databases import with_database
from harmoniq_common.testing.infra import InfraStack, free_port
from harmoniq_messages.store import messages as message_sql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))  # when run alone
import messages_corpus
import messages_load
import messages_measure
import messages_reads
import messages_sendpath
from messages_load import Cast, Outcome

import nginx_config
from fleet import ROOT, Fleet

BENCH = Path(__file__).resolve().parent
OUT = ROOT / ".bench" / "messages"
CPU_GROUPS = ("messages", "guilds", "auth", "gateway", "nginx", "postgres", "redis", "nats")


@dataclass(frozen=True)
class Sizes:
    rows: int
    sends: int
    sends_concurrent: int
    reads: int
    read_seconds: float
    send_seconds: float
    profile_sends: int


FULL = Sizes(1_000_000, 500, 2000, 200, 8.0, 60.0, 1000)
QUICK = Sizes(100_000, 200, 800, 40, 3.0, 30.0, 400)


class BenchFleet(Fleet):
    """The fleet with nginx's per-address guard off (``HARMONIQ_NGINX_RATE_PER_SECOND=0``):
    every bench request comes from 127.0.0.1, so at 50 r/s the guard, not the service, would be
    measured. Nothing else in the rendered configuration changes."""

    def render_nginx(self) -> Path:
        os.environ["HARMONIQ_NGINX_RATE_PER_SECOND"] = "0"
        conf = super().render_nginx()
        if (rate := nginx_config.per_address_guard(conf)) is not None:
            raise RuntimeError(f"{conf}: the per-address guard is still on ({rate})")
        return conf


# -- phases -------------------------------------------------------------------------------------


def _cpu_groups(fleet: Fleet, infra: InfraStack) -> dict[str, list[int]]:
    # Every service of the fleet: bots (outgoing webhooks) consume every server event too.
    groups = {name: [p.popen.pid for p in procs] for name, procs in fleet.processes.items()}
    groups["nginx"] = [fleet.nginx.popen.pid] if fleet.nginx else []
    for name, pid in infra.pids.items():
        groups[name] = [pid]
    return groups


async def _seed(admin_dsn: str, cast: Cast, rows: int) -> messages_corpus.SeedReport:
    admin = await asyncpg.connect(admin_dsn)
    try:
        return await messages_corpus.seed_channel(
            admin,
            schema="messages",
            server_id=int(cast.server_id),
            channel_id=int(cast.big_channel_id),
            rows=rows,
        )
    finally:
        await admin.close()


async def _warm_up(url: str, cast: Cast, contents: list[str]) -> None:
    """Fill the access cache and the authors projection, open pool and upstream connections."""
    warm = await messages_load.send_run(
        url, cast.senders, cast.chat_channel_id, contents[: 3 * len(cast.senders)], time_limit=30
    )
    if warm.errors:
        raise RuntimeError(f"warm-up sends failed: {dict(warm.errors)}")
    big, server = cast.big_channel_id, cast.server_id
    reads = [
        (f"/api/v1/channels/{big}/messages", {"limit": "50"}),
        (f"/api/v1/channels/{big}/messages/search", {"q": messages_corpus.RARE_WORD}),
        (f"/api/v1/servers/{server}/messages/search", {"q": messages_corpus.RARE_WORD}),
    ]
    await messages_load.read_run(url, cast.owner, reads, count=12, concurrency=2, time_limit=30)


# -- reporting ----------------------------------------------------------------------------------


def _row(name: str, concurrency: int, outcome: Outcome, extra: str = "") -> dict[str, Any]:
    row = {
        "name": name,
        "concurrency": concurrency,
        "n": len(outcome.latencies),
        "p50_ms": outcome.p50_ms if outcome.latencies else float("nan"),
        "p99_ms": outcome.ms(0.99) if outcome.latencies else float("nan"),
        "max_ms": outcome.ms(1.0) if outcome.latencies else float("nan"),
        "rate": outcome.rate,
        "errors": dict(outcome.errors),
        "extra": extra,
    }
    print(
        f"{_pad(name, 44)} {concurrency:>4d} {row['n']:>6d} {row['p50_ms']:9.1f} {row['p99_ms']:9.1f}"
        f" {row['max_ms']:9.1f} {row['rate']:9.1f}  {extra}"
        + (f"  errors={row['errors']}" if outcome.errors else ""),
        flush=True,
    )
    return row


def _pad(text: str, width: int) -> str:
    """Left-justify by display width: CJK characters take two columns in a terminal."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - columns)


def _print_cpu(label: str, seconds: dict[str, float], wall: float, count: int) -> dict[str, Any]:
    names = [*CPU_GROUPS, "bench client", messages_measure.OTHER]
    if label == "header":
        print(
            f"{'CPU, % of one core (ms per request)':44s} " + " ".join(f"{n:>13s}" for n in names)
        )
        return {}
    cells = [
        f"{100 * seconds.get(n, 0) / wall:5.0f}% ({1000 * seconds.get(n, 0) / max(1, count):5.2f})"
        for n in names
    ]
    total = sum(v for k, v in seconds.items() if k != messages_measure.OTHER)
    print(
        f"{label:44s} "
        + " ".join(f"{c:>13s}" for c in cells)
        + f"  fleet+client {100 * total / wall:.0f}%"
    )
    return {"wall": wall, "count": count, "cpu_seconds": seconds}


# -- main ---------------------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench messages")
    parser.add_argument("--quick", action="store_true", help="100k rows, fewer requests")
    parser.add_argument("--rows", type=int, help="messages seeded into the big channel")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled instance")
    parser.add_argument(
        "--messages-instances", type=int, default=1, help="messages instances behind nginx"
    )
    parser.add_argument(
        "--locale",
        help="create the database with this libc locale (e.g. C.UTF-8) instead of initdb's C",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="HARMONIQ_X=VALUE",
        help="extra fleet environment, for experiments (e.g. HARMONIQ_DATABASE_POOL_MAX=30)",
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.rows:
        sizes = Sizes(**{**asdict(sizes), "rows": args.rows})
    OUT.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "sizes": asdict(sizes),
        "cores": os.cpu_count(),
        "args": vars(args),
        "rows": [],
    }
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"# messages ({os.cpu_count()} cores, load average {load} before starting): sends and"
        f" reads through nginx, {sizes.rows:,} messages in the read channel",
        flush=True,
    )
    started = time.monotonic()
    infra_stack: InfraStack
    with tempfile.TemporaryDirectory(prefix="harmoniq-bench-") as tmp:
        infra_stack = InfraStack(Path(tmp) / "infra")
        with infra_stack as infra:
            database = f"hq_bench_{secrets.token_hex(3)}"
            if args.locale:
                uvloop.run(_create_database(infra.postgres_url, database, args.locale))
            fleet = BenchFleet(
                infra,
                Path(tmp) / "fleet",
                public_port=free_port(),
                database=database,
                namespace="benchmsg",
                fixed_ports=False,
                instances={"messages": args.messages_instances},
                extra_env={
                    "HARMONIQ_AUTH_RATE_LIMIT": "1000000",
                    "HARMONIQ_SEND_RATE_LIMIT": "1000000",
                    "HARMONIQ_LOG_LEVEL": "WARNING",
                    **dict(item.split("=", 1) for item in args.env),
                },
            )
            fleet.start()
            try:
                _run(fleet, infra_stack, with_database(infra.postgres_url, database), sizes,
                     args, report)  # fmt: skip
            finally:
                fleet.stop()
    report["total_seconds"] = time.monotonic() - started
    (OUT / "results.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"# messages benchmark done in {report['total_seconds']:.0f} s; details in {OUT}")


async def _create_database(admin_dsn: str, database: str, locale: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE \"{database}\" LOCALE '{locale}' TEMPLATE template0")
    finally:
        await conn.close()


def _run(
    fleet: Fleet,
    infra_stack: InfraStack,
    admin_dsn: str,
    sizes: Sizes,
    args: argparse.Namespace,
    report: dict[str, Any],
) -> None:
    url = fleet.url
    t = time.monotonic()
    cast = uvloop.run(messages_load.assemble_cast(url, 32))
    print(f"cast: 33 users registered, one server, joined ({time.monotonic() - t:.1f} s)")
    seed = uvloop.run(_seed(admin_dsn, cast, sizes.rows))
    report["seed"] = asdict(seed) | {"author_ids": len(seed.author_ids)}
    print(
        f"seed: {seed.rows:,} messages COPYed in {seed.generate_copy_seconds:.1f} s"
        f" (text generated on the fly), indexes rebuilt in {seed.index_seconds:.1f} s,"
        f" VACUUM ANALYZE {seed.vacuum_seconds:.1f} s; table {seed.table_bytes / 2**20:.0f} MiB,"
        " indexes "
        + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in seed.index_bytes.items())
        + " MiB",
        flush=True,
    )
    contents = messages_corpus.sample_contents(max(sizes.sends_concurrent, 3 * 32) + 10, seed=5)
    uvloop.run(_warm_up(url, cast, contents))

    meter = messages_measure.CpuMeter(_cpu_groups(fleet, infra_stack), own="bench client")
    print(f"\n{'request':44s} {'conc':>4s} {'n':>6s} {'p50 ms':>9s} {'p99 ms':>9s}"
          f" {'max ms':>9s} {'req/s':>9s}")  # fmt: skip
    cpu_rows: list[tuple[str, dict[str, float], float, int]] = []
    for concurrency, count in ((1, sizes.sends), (32, sizes.sends_concurrent)):
        before = meter.sample()
        outcome = uvloop.run(
            messages_load.send_run(
                url,
                cast.senders[:concurrency],
                cast.chat_channel_id,
                contents[:count],
                time_limit=sizes.send_seconds,
            )
        )
        cpu = messages_measure.CpuMeter.delta(before, meter.sample())
        name = f"send (one channel, {concurrency} sender{'s' if concurrency > 1 else ''})"
        report["rows"].append(_row(name, concurrency, outcome))
        cpu_rows.append((f"send c={concurrency}", cpu, outcome.wall, len(outcome.latencies)))

    uvloop.run(_settle(admin_dsn))
    big = int(cast.big_channel_id)
    channels = uvloop.run(_channel_ids(url, cast))
    cursors = messages_reads.deep_cursors(seed, 200)
    history_path = f"/api/v1/channels/{big}/messages"
    newest = messages_reads.ReadCase("history newest 50", [(history_path, {"limit": "50"})])
    deep = messages_reads.ReadCase(
        "history before deep cursor",
        [(history_path, {"limit": "50", "before": str(c)}) for c in cursors],
    )
    cases = [
        newest,
        messages_reads.ReadCase(newest.name, newest.requests, concurrency=8),
        deep,
        messages_reads.ReadCase(deep.name, deep.requests, concurrency=8),
        *messages_reads.search_cases(cast, channels, seed.author_ids[5]),
    ]
    for case in cases:
        before = meter.sample()
        outcome = uvloop.run(
            messages_load.read_run(
                url,
                cast.owner,
                case.requests,
                count=sizes.reads * case.concurrency,
                concurrency=case.concurrency,
                time_limit=sizes.read_seconds,
            )
        )
        cpu = messages_measure.CpuMeter.delta(before, meter.sample())
        extra = ""
        if outcome.bodies and isinstance(outcome.bodies[0], dict):
            found = outcome.bodies[0]
            extra = f"page {len(found['messages'])}, more={found['has_more']}"
        elif outcome.bodies:
            extra = f"page {len(outcome.bodies[0])}"
        report["rows"].append(_row(case.name, case.concurrency, outcome, extra))
        if case.concurrency > 1:
            cpu_rows.append((f"{case.name} c={case.concurrency}", cpu, outcome.wall,
                             len(outcome.latencies)))  # fmt: skip

    print()
    _print_cpu("header", {}, 1, 1)
    report["cpu"] = {label: _print_cpu(label, cpu, wall, n) for label, cpu, wall, n in cpu_rows}

    sample = message_sql.NewMessage(
        id=messages_reads.lowest_id_at(datetime.now(UTC)) | 4095,
        server_id=int(cast.server_id),
        channel_id=int(cast.chat_channel_id),
        author_id=int(cast.senders[0].id),
        content=contents[0],
        nonce="explain-nonce",
        reply_to_id=None,
        mention_user_ids=[],
        mention_role_ids=[],
        mention_everyone=False,
        has_link=False,
    )
    plans = uvloop.run(
        messages_reads.plans(admin_dsn, cases, big, cursors[len(cursors) // 2], sample)
    )
    report["plans"] = plans
    with (OUT / "explain.txt").open("w") as handle:
        for name, entry in plans.items():
            handle.write(f"== {name}\n{entry['sql']}\n\n" + "\n".join(entry["plan"]) + "\n\n")
            if "generic_plan" in entry:
                handle.write("-- generic plan:\n" + "\n".join(entry["generic_plan"]) + "\n\n")
    print("\n# EXPLAIN (ANALYZE, BUFFERS) of the service's SQL (full plans in explain.txt)")
    for name, entry in plans.items():
        messages_reads.print_plan(name, entry)

    if not args.no_profile:
        profile = messages_sendpath.profile_send_path(
            fleet, cast, contents, sizes.profile_sends, OUT
        )
        report["profile"] = profile
        messages_sendpath.print_profile(profile)


async def _settle(admin_dsn: str, limit: float = 30.0) -> None:
    """Let the sends' aftermath finish (the outbox relayed, consumers idle) before reading."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if not await admin.fetchval("SELECT count(*) FROM messages.outbox"):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # consumers of the relayed events (gateway, guilds) catch up
    finally:
        await admin.close()


async def _channel_ids(url: str, cast: Cast) -> list[int]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        response = await client.get(
            f"/api/v1/servers/{cast.server_id}/channels", headers=cast.owner.headers
        )
        return [int(c["id"]) for c in response.json()]


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH.parent / "deploy"))
    main(sys.argv[1:])
