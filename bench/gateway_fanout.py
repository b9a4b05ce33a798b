"""Gateway fan-out: N clients in one server and one text channel, messages sent through REST.

Starts the fleet on its own database and namespace (embedded Postgres/Redis/NATS, as the other
benchmarks do), registers an owner and as many members as the largest run needs straight at
the auth service (cheap argon2 and a lifted credential limit: setting up is not what is
measured), creates one server whose members all join through an invite (``POST
/api/v1/invites/{code}``, straight at guilds), then for each gateway instance count and each N,
on freshly started gateway processes:

1. connects N members' gateway clients (real WebSockets: HELLO, IDENTIFY, READY checked to hold
   the server and the channel; heartbeats at half the interval), through nginx when nginx can
   hold them (see ``--path``), else straight to the gateway instances, round-robin;
2. reads the gateway processes' ``VmRSS`` before and after: memory per idle connection;
3. measures an idle window (heartbeats only) and sends 3 warm-up messages;
4. sends ``--messages`` messages through nginx (``POST /api/v1/channels/{id}/messages``, by the
   owner, who is not connected) at a fixed rate, and times each one from the start of its
   POST to the moment each client reads it; deliveries are counted once per (client, message),
   so the delivered fraction is exact; CPU of every process (gateway, the client process
   itself, nginx, messages, NATS, Postgres…) over the send phase from ``/proc``;
4b. a role change: the owner toggles a permission of the server's default role (through
   nginx) and times, from the start of the PATCH, each client's reading of ``role.updated``
   (every session's permissions are asked again before it is delivered);
5. churn: 6 s more of the same traffic while a few more members connect (each a new user for
   its instance, which changes the instance's interest);
6. closes the clients and waits for the gateway to go quiet. Warnings and errors the gateway
   logged during the run are counted by event; Redis connections are sampled per phase.

4a. the saturating phase (issue #15; ``--saturate M``, ``--saturate-only`` for nothing else,
   where N may be 0): M messages sent one at a time (each POST after the previous answered),
   then M with 16 in flight; send msg/s, delivery p50/p99/max, % delivered and CPU ms per
   message of each process group, with the load average (the box is shared).

The send limit and the credential limit are lifted for the run; the services' Redis pool is
the shipped one unless ``--redis-max-connections`` sets ``HARMONIQ_REDIS_POOL_MAX``. nginx's
per-address guard is off (``HARMONIQ_NGINX_RATE_PER_SECOND=0`` unless the environment sets
it); an upgrade it refuses (429) is retried and counted. nginx's
``worker_connections`` follows the machine's hard open-file limit
(``HARMONIQ_NGINX_WORKER_CONNECTIONS`` overrides it); ``--path auto`` goes through nginx when
it can hold N (a proxied socket takes two), ``direct`` connects straight to the instances.

Bounded: every run has a message count, a rate and time limits; loopback only; everything
stops by itself. Figures as JSON go to ``.bench/gateway/``.

``.venv/bin/python bench/run.py gateway [--quick]`` or ``.venv/bin/python bench/gateway_fanout.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis.asyncio
import uvloop

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.infra import InfraStack, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))  # when run alone
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from gateway_load import CpuMeter, LeanHttp, Swarm, cpu_seconds, percentile, rss_kib

from fleet import ROOT, Fleet

OUT = ROOT / ".bench" / "gateway"
CHEAP_ARGON2 = {
    "HARMONIQ_ARGON2_TIME_COST": "1",
    "HARMONIQ_ARGON2_MEMORY_KIB": "8192",
    "HARMONIQ_ARGON2_PARALLELISM": "1",
}
PADDING = "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor"


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    instances: tuple[int, ...]
    loads: dict[int, tuple[int, float]]  # N -> (messages, messages per second)
    idle_seconds: float
    churn_seconds: float  # 0: no churn phase
    newcomers: int
    saturate: int = 0  # the saturating phase (issue #15): M one at a time, then M 16 in flight
    saturate_only: bool = False  # only connect, warm up and saturate (no fixed-rate phase…)

    def load(self, clients: int) -> tuple[int, float]:
        if clients in self.loads:
            return self.loads[clients]
        # Unlisted N: the load of the nearest listed one at or above it, else the largest.
        bigger = [n for n in sorted(self.loads) if n >= clients]
        return self.loads[bigger[0] if bigger else max(self.loads)]


# About 2,000 deliveries per second at N=100 and 5,000 at N=1,000 and 5,000: within what one
# stock instance sustains (~7,000/s on one core), so latency is measured, not a queue.
FULL = Plan(
    (100, 1000, 5000),
    (1, 2),
    {100: (100, 20.0), 1000: (60, 5.0), 5000: (30, 1.0)},
    5.0,
    6.0,
    4,
    300,
)
QUICK = Plan((20, 100), (1, 2), {20: (30, 10.0), 100: (30, 10.0)}, 2.0, 3.0, 2, 50)
IN_FLIGHT = 16  # the saturating phase's concurrent sends


@dataclass
class Cast:
    owner_token: str
    tokens: list[str]
    server_id: str
    channel_id: str
    churn_tokens: list[str]  # members who connect only during the churn phases


@dataclass
class Burst:
    """One saturating phase: ``messages`` sends with at most ``in_flight`` at once (the next
    POST starts as soon as one answers), timed from each POST's start to each delivery."""

    in_flight: int
    messages: int
    listeners: int
    send_rate: float = 0.0  # messages / (first POST start → last POST answer)
    post_p50_ms: float = 0.0
    post_p99_ms: float = 0.0
    delivered: int = 0
    expected: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    wall_s: float = 0.0  # first POST → last delivery (or the time limit)
    cpu_ms_per_message: dict[str, float] = field(default_factory=dict)  # per process group
    system_share: dict[str, float] = field(default_factory=dict)  # the kernel's part of CPU
    syscalls_per_message: dict[str, float] = field(default_factory=dict)  # reads + writes
    load_average: str = ""  # /proc/loadavg when the phase ended (the box is shared)
    # The hypervisor's share of the box's CPU time during the phase (/proc/stat "steal"): on a
    # busy host the same code measured 1.5-2x the CPU per message, so figures carry it.
    steal_share: float = 0.0

    @property
    def delivered_share(self) -> float:
        return self.delivered / self.expected if self.expected else 1.0


@dataclass
class Result:
    clients: int
    instances: int
    path: str
    messages: int
    rate: float
    connect_s: float = 0.0
    connected: int = 0  # clients that got READY
    identify_p50_ms: float = 0.0
    identify_p99_ms: float = 0.0
    upgrade_retries: int = 0
    identify_failures: dict[str, int] = field(default_factory=dict)
    connect_cpu: dict[str, float] = field(default_factory=dict)  # connect + settle, CPU s
    settle_s: float = 0.0  # after the last READY, until the gateway went quiet
    held: int = 0
    rss_before_kib: int = 0
    rss_idle_kib: int = 0
    rss_after_close_kib: int = 0
    kib_per_connection: float = 0.0
    idle_cpu: dict[str, float] = field(default_factory=dict)  # cores busy while idle
    warm_up_s: float = 0.0  # 3 messages sent one after the other, until all have them
    warm_delivered: int = 0  # of 3 * N
    send_rate: float = 0.0  # achieved
    post_p50_ms: float = 0.0
    post_p99_ms: float = 0.0
    delivered: int = 0
    expected: int = 0
    duplicates: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    first_p50_ms: float = 0.0  # per message: its first delivery
    last_p50_ms: float = 0.0  # per message: its last delivery (everyone has it)
    spread_p50_ms: float = 0.0  # per message: last - first delivery
    per_message_first_ms: list[float] = field(default_factory=list)
    per_message_last_ms: list[float] = field(default_factory=list)
    send_wall_s: float = 0.0  # first POST → last delivery (or the time limit)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds over send_wall_s
    loop_lag_p99_ms: float = 0.0  # the client process's event loop, during the send phase
    closes: dict[str, int] = field(default_factory=dict)
    churn_identify_ms: list[float] = field(default_factory=list)  # newcomers' connect → READY
    churn_p50_ms: float = 0.0  # latency of the messages sent while newcomers connected
    churn_max_ms: float = 0.0
    churn_delivered: str = ""
    # A role change: PATCH start -> each client reads role.updated
    role_change_received: int = 0
    role_change_p50_ms: float = 0.0
    role_change_max_ms: float = 0.0
    # Redis connections of the whole fleet, most at once, per phase
    redis_clients_peak: dict[str, int] = field(default_factory=dict)
    gateway_log: dict[str, int] = field(default_factory=dict)  # warnings/errors, by event
    bursts: list[Burst] = field(default_factory=list)  # the saturating phase
    error: str = ""  # what broke the run, if something did

    @property
    def us_per_delivery(self) -> float:
        """Gateway CPU of the send phase per delivery, in µs."""
        return self.cpu.get("gateway", 0.0) / self.delivered * 1e6 if self.delivered else 0.0

    @property
    def net_us_per_delivery(self) -> float:
        """The same without what the idle sessions cost over the phase (heartbeats)."""
        if not self.delivered:
            return 0.0
        idle = self.idle_cpu.get("gateway", 0.0) * self.send_wall_s
        return (self.cpu.get("gateway", 0.0) - idle) / self.delivered * 1e6

    @property
    def delivered_text(self) -> str:
        share = self.delivered / self.expected if self.expected else 0.0
        return f"{self.delivered}/{self.expected} ({share:.4%})"


# -- the fleet ------------------------------------------------------------------------------------


def _raise_open_files() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit, before the fleet starts: nginx and the services
    inherit it from this process, and this process holds every client socket."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _nginx_capacity(fleet: Fleet) -> tuple[int, int]:
    """(worker_connections * workers, per-address burst) of the running nginx config."""
    assert fleet.nginx is not None
    conf = Path(fleet.work_dir / "nginx" / "nginx.conf").read_text()
    found = re.search(r"worker_connections\s+(\d+)", conf)
    if found is None:
        raise RuntimeError(f"{conf}: no worker_connections")
    connections = int(found.group(1))
    workers_match = re.search(r"worker_processes\s+(\d+)", conf)
    workers = int(workers_match.group(1)) if workers_match else 1
    burst = re.search(r"limit_req zone=harmoniq_per_ip burst=(\d+)", conf)
    return connections * workers, int(burst.group(1)) if burst else 10**9


def _fresh_gateways(fleet: Fleet, count: int) -> None:
    """Replace the gateway instances with ``count`` new processes, so that every run starts
    from a fresh heap (Python keeps freed memory: a process that once held 5,000 sessions
    would absorb the next run's connections without growing) and no leftover state."""
    old = fleet.processes["gateway"]
    entry = next(s for s in fleet.services if s.name == "gateway")
    fleet.processes["gateway"] = []
    started = [fleet.start_instance(entry, index) for index in range(count)]
    for process in started:
        fleet.wait_ready(process)
    fleet.reload_nginx()
    for process in old:
        fleet.stop_process(process)
    time.sleep(1.0)  # nginx's new workers have taken over


def _groups(fleet: Fleet, infra: InfraStack) -> dict[str, list[int]]:
    # Every service of the fleet: bots (outgoing webhooks) consume every server event too.
    groups = {name: [p.popen.pid for p in procs] for name, procs in fleet.processes.items()}
    groups["client"] = [os.getpid()]
    groups["nginx"] = [fleet.nginx.popen.pid] if fleet.nginx else []
    for name, pid in infra.pids.items():
        groups[name] = [pid]
    return groups


TREES = ("nginx", "postgres")


# -- set-up ---------------------------------------------------------------------------------------


def _expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{what}: {response.status_code} {response.text}")
    return response.json()


async def _assemble(fleet: Fleet, members: int, newcomers: int) -> Cast:
    """Owner + members (straight at auth), one server, its text channel, everyone joined
    through an invite (straight at guilds: nginx's per-address guard would pace set-up)."""
    auth = f"http://127.0.0.1:{fleet.processes['auth'][0].port}"
    guilds = f"http://127.0.0.1:{fleet.processes['guilds'][0].port}"
    tag = secrets.token_hex(3)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
        gate = asyncio.Semaphore(16)

        async def register(n: int) -> tuple[str, str]:
            name = f"g{tag}{n}"
            async with gate:
                body = _expect(
                    await client.post(
                        f"{auth}/api/v1/auth/register",
                        json={
                            "username": name,
                            "email": f"{name}@bench.example",
                            "password": "benchmark password",
                        },
                    ),
                    201,
                    "register",
                )
            return body["user"]["id"], body["access_token"]

        started = time.perf_counter()
        owner, *people = await asyncio.gather(
            *(register(n) for n in range(members + newcomers + 1))
        )
        registered = time.perf_counter() - started
        owner_headers = {"Authorization": f"Bearer {owner[1]}"}
        server = _expect(
            await client.post(
                f"{guilds}/api/v1/servers", json={"name": "Fan-out"}, headers=owner_headers
            ),
            201,
            "create server",
        )
        channels = _expect(
            await client.get(
                f"{guilds}/api/v1/servers/{server['id']}/channels", headers=owner_headers
            ),
            200,
            "list channels",
        )
        channel = next(c for c in channels if c["kind"] == "text")
        invite = _expect(
            await client.post(
                f"{guilds}/api/v1/channels/{channel['id']}/invites",
                json={"max_uses": None, "max_age_seconds": None},
                headers=owner_headers,
            ),
            201,
            "create invite",
        )

        async def join(token: str) -> None:
            async with gate:
                _expect(
                    await client.post(
                        f"{guilds}/api/v1/invites/{invite['code']}",
                        headers={"Authorization": f"Bearer {token}"},
                    ),
                    200,
                    "join",
                )

        started = time.perf_counter()
        await asyncio.gather(*(join(token) for _, token in people))
        joined = time.perf_counter() - started
    print(
        f"  set-up: {len(people) + 1} accounts in {registered:.1f} s, {len(people)} joins in"
        f" {joined:.1f} s (straight at the services)",
        flush=True,
    )
    tokens = [token for _, token in people]
    return Cast(owner[1], tokens[:members], str(server["id"]), str(channel["id"]), tokens[members:])


# -- one run --------------------------------------------------------------------------------------


# Gateway CPU of one idle session, as a share of a core: a heartbeat every 20.6 s (the test
# client beats at half the 41.25 s interval) costs about 1.1-1.4 ms (measured: idle windows).
IDLE_SESSION_CORE = 1.5e-3 / 20.6


async def _wait_quiet(
    pids: list[int], sessions: int = 0, *, others: list[int], limit: float = 60.0
) -> float:
    """Until, over half a second, the gateway processes are down to what ``sessions`` idle
    sessions cost (plus 5% of a core each) and each of ``others`` (NATS: it builds the
    instances' consumers) uses under 5%: the tail of connecting (presence published, consumers
    replaced) or of closing is over. Seconds waited."""
    below = 0.05 * len(pids) + sessions * IDLE_SESSION_CORE
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        before = sum(cpu_seconds(p) for p in pids)
        others_before = [cpu_seconds(p) for p in others]
        await asyncio.sleep(0.5)
        busy = (sum(cpu_seconds(p) for p in pids) - before) / 0.5
        others_busy = [
            (cpu_seconds(p) - b) / 0.5 for p, b in zip(others, others_before, strict=True)
        ]
        if busy < below and all(share < 0.05 for share in others_busy):
            break
    return time.perf_counter() - started


async def _loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    """How late a 10 ms sleep wakes up: the client process's own saturation."""
    while not stop.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append((time.perf_counter() - before - 0.01) * 1000)


async def _post(http: httpx.AsyncClient, path: str, headers: dict[str, str], content: str) -> float:
    started = time.perf_counter()
    response = await http.post(path, json={"content": content}, headers=headers)
    if response.status_code != 201:
        raise RuntimeError(f"send: {response.status_code} {response.text}")
    return (time.perf_counter() - started) * 1000


async def _redis_clients(url: str, peaks: dict[str, int], stop: asyncio.Event) -> None:
    """The most clients Redis saw connected at once (every service's pool), sampled every
    0.25 s, per phase: the phase is the last key added to ``peaks``."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        while not stop.is_set():
            info = await client.info("clients")
            phase = next(reversed(peaks))
            peaks[phase] = max(peaks[phase], int(info["connected_clients"]))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.25):
                    await stop.wait()
    finally:
        await client.aclose()


@dataclass
class _Phase:
    """One timed burst of messages: their POST latencies and the achieved rate."""

    post_ms: list[float]
    rate: float
    complete: bool


async def _send(
    http: httpx.AsyncClient,
    cast: Cast,
    swarm: Swarm,
    messages: int,
    rate: float,
    *,
    deadline: float = 60.0,
) -> _Phase:
    """``messages`` messages at ``rate`` per second, each POST started on schedule whether or
    not the previous one has answered; then wait (up to ``deadline`` s) for every delivery."""
    path = f"/api/v1/channels/{cast.channel_id}/messages"
    headers = {"Authorization": f"Bearer {cast.owner_token}"}
    tag = secrets.token_hex(4)
    swarm.expect(tag, messages)

    async def timed_post(i: int) -> float:
        swarm.sent_at[i] = time.perf_counter()
        return await _post(http, path, headers, f"{tag} {i} {PADDING}")

    posts: list[asyncio.Task[float]] = []
    first = time.perf_counter()
    for i in range(messages):
        delay = first + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        posts.append(asyncio.create_task(timed_post(i)))
    post_ms = await asyncio.gather(*posts)
    achieved = (messages - 1) / (swarm.sent_at[-1] - swarm.sent_at[0]) if messages > 1 else rate
    complete = await swarm.all_delivered(timeout=deadline)
    return _Phase(list(post_ms), achieved, complete)


async def _burst(
    http: httpx.AsyncClient,
    cast: Cast,
    swarm: Swarm,
    meter: CpuMeter,
    messages: int,
    in_flight: int,
    *,
    deadline: float = 60.0,
) -> Burst:
    """``messages`` sends as fast as they answer, ``in_flight`` at a time; then wait (up to
    ``deadline`` s) for every delivery. CPU of every process group over the whole phase."""
    path = f"/api/v1/channels/{cast.channel_id}/messages"
    authorization = f"Bearer {cast.owner_token}"
    tag = secrets.token_hex(4)
    swarm.expect(tag, messages)
    burst = Burst(in_flight, messages, len(swarm.members))
    post_ms: list[float] = []
    upcoming = iter(range(messages))
    # Lean senders (gateway_load.LeanHttp): what the client spends is taken from the fleet.
    connections = [LeanHttp(str(http.base_url)) for _ in range(in_flight)]

    async def sender(connection: LeanHttp) -> None:
        for i in upcoming:
            body = msgspec.json.encode({"content": f"{tag} {i} {PADDING}"})
            swarm.sent_at[i] = started = time.perf_counter()
            status, answer = await connection.post_json(path, authorization, body)
            if status != 201:
                raise RuntimeError(f"send: {status} {answer[:300]!r}")
            post_ms.append((time.perf_counter() - started) * 1000)

    meter.start()
    host_before = _host_cpu_ticks()
    first = time.perf_counter()
    try:
        await asyncio.gather(*(sender(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    burst.send_rate = messages / (time.perf_counter() - first)
    if swarm.members:
        await swarm.all_delivered(timeout=deadline)
    burst.wall_s, cpu = meter.stop()
    burst.load_average = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    burst.steal_share = _steal_share(host_before, _host_cpu_ticks())
    burst.cpu_ms_per_message = {
        name: round(seconds * 1000 / messages, 3) for name, seconds in cpu.items()
    }
    burst.system_share = {
        name: round(meter.system[name] / seconds, 3) for name, seconds in cpu.items() if seconds
    }
    burst.syscalls_per_message = {
        name: round(calls / messages, 1) for name, calls in meter.syscalls.items()
    }
    burst.post_p50_ms = statistics.median(post_ms)
    burst.post_p99_ms = percentile(post_ms, 0.99)
    burst.delivered = swarm.delivered
    burst.expected = messages * len(swarm.members)
    figures = _latencies(swarm)
    burst.p50_ms = figures.get("p50", 0.0)
    burst.p99_ms = figures.get("p99", 0.0)
    burst.max_ms = figures.get("max", 0.0)
    return burst


async def _saturate(
    http: httpx.AsyncClient, cast: Cast, swarm: Swarm, meter: CpuMeter, plan: Plan, result: Result
) -> None:
    """M one at a time, then M 16 in flight; raises :class:`_Done` with ``--saturate-only``."""
    if plan.saturate:
        for in_flight in (1, IN_FLIGHT):
            result.bursts.append(await _burst(http, cast, swarm, meter, plan.saturate, in_flight))
    if plan.saturate_only:
        raise _Done


async def _role_change(http: httpx.AsyncClient, cast: Cast, swarm: Swarm, result: Result) -> None:
    headers = {"Authorization": f"Bearer {cast.owner_token}"}
    roles = _expect(
        await http.get(f"/api/v1/servers/{cast.server_id}/roles", headers=headers), 200, "roles"
    )
    everyone = next(r for r in roles if r["id"] == cast.server_id)
    arrivals = swarm.arrivals["role.updated"] = []
    started = time.perf_counter()
    _expect(
        await http.patch(
            f"/api/v1/servers/{cast.server_id}/roles/{cast.server_id}",
            json={"permissions": everyone["permissions"] ^ int(Permission.ADD_REACTIONS)},
            headers=headers,
        ),
        200,
        "role change",
    )
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(120):
            while len(arrivals) < len(swarm.members):
                await asyncio.sleep(0.01)
    took = sorted((at - started) * 1000 for at in arrivals)
    result.role_change_received = len(took)
    if took:
        result.role_change_p50_ms = statistics.median(took)
        result.role_change_max_ms = took[-1]
    del swarm.arrivals["role.updated"]


def _latencies(swarm: Swarm) -> dict[str, float]:
    everything = [value for per_message in swarm.latencies for value in per_message]
    if not everything:
        return {}
    heard = [m for m in swarm.latencies if m]
    return {
        "p50": statistics.median(everything) * 1000,
        "p99": percentile(everything, 0.99) * 1000,
        "max": max(everything) * 1000,
        "first_p50": statistics.median(min(m) for m in heard) * 1000,
        "last_p50": statistics.median(max(m) for m in heard) * 1000,
        "spread_p50": statistics.median(max(m) - min(m) for m in heard) * 1000,
    }


async def _one_run(
    fleet: Fleet,
    infra: InfraStack,
    redis_url: str,
    cast: Cast,
    clients: int,
    load: tuple[int, float],
    plan: Plan,
    path: str,
    concurrency: int,
) -> Result:
    messages, rate = load
    gateways = fleet.processes["gateway"]
    pids = [p.popen.pid for p in gateways]
    result = Result(clients, len(gateways), path, messages, rate)
    others = [pid for name, pid in infra.pids.items() if name == "nats"]
    await _wait_quiet(pids, others=others)
    result.rss_before_kib = sum(rss_kib(p) for p in pids)
    if path == "nginx":
        urls = [f"ws://127.0.0.1:{fleet.public_port}"]
    else:
        urls = [f"ws://127.0.0.1:{p.port}" for p in gateways]
    logs = _LogWatch([p.log_path for p in gateways])
    meter = CpuMeter(_groups(fleet, infra), TREES)
    redis_peaks = {"before": 0}
    stop_sampling = asyncio.Event()
    sampling = asyncio.create_task(_redis_clients(redis_url, redis_peaks, stop_sampling))
    await asyncio.sleep(0.3)
    redis_peaks["connect"] = 0

    # 1. connect N clients; the gateway settles (presence published, consumer replaced)
    swarm = Swarm(cast.server_id, cast.channel_id)
    meter.start()
    connected = await swarm.connect(urls, cast.tokens[:clients], concurrency=concurrency)
    result.connect_s = connected.seconds
    result.connected = connected.clients
    if connected.identify_ms:
        result.identify_p50_ms = statistics.median(connected.identify_ms)
        result.identify_p99_ms = percentile(connected.identify_ms, 0.99)
    result.upgrade_retries = connected.retries
    result.identify_failures = connected.failures
    result.settle_s = await _wait_quiet(pids, connected.clients, others=others, limit=60.0)
    _, connect_cpu = meter.stop()
    result.connect_cpu = {name: round(seconds, 2) for name, seconds in connect_cpu.items()}

    # 2. memory of N idle connections; an idle window (heartbeats only)
    redis_peaks["idle and send"] = 0
    result.rss_idle_kib = sum(rss_kib(p) for p in pids)
    result.kib_per_connection = (result.rss_idle_kib - result.rss_before_kib) / max(
        connected.clients, 1
    )
    meter.start()
    await asyncio.sleep(plan.idle_seconds)
    wall, idle = meter.stop()
    result.idle_cpu = {name: round(seconds / wall, 4) for name, seconds in idle.items()}

    try:
        async with httpx.AsyncClient(base_url=fleet.url, timeout=60) as http:
            # 3. warm-up: caches, upstream connections
            path_send = f"/api/v1/channels/{cast.channel_id}/messages"
            headers = {"Authorization": f"Bearer {cast.owner_token}"}
            started = time.perf_counter()
            for i in range(3):
                await _post(http, path_send, headers, f"warm {i} {PADDING}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    while swarm.warm_delivered < 3 * len(swarm.members):
                        await asyncio.sleep(0.01)
            result.warm_up_s = time.perf_counter() - started
            result.warm_delivered = swarm.warm_delivered

            # 4a. the saturating phase (issue #15): M one at a time, then M 16 in flight
            await _saturate(http, cast, swarm, meter, plan, result)

            # 4. the measured send phase
            lag: list[float] = []
            stop_lag = asyncio.Event()
            lagging = asyncio.create_task(_loop_lag(lag, stop_lag))
            meter.start()
            phase = await _send(http, cast, swarm, messages, rate)
            result.send_wall_s, cpu = meter.stop()
            stop_lag.set()
            await lagging
            result.cpu = {name: round(seconds, 3) for name, seconds in cpu.items()}
            result.send_rate = phase.rate
            result.post_p50_ms = statistics.median(phase.post_ms)
            result.post_p99_ms = percentile(phase.post_ms, 0.99)
            result.loop_lag_p99_ms = percentile(lag, 0.99) if lag else 0.0
            result.delivered = swarm.delivered
            result.expected = messages * clients  # every client asked for, connected or not
            result.duplicates = swarm.duplicates
            result.held = swarm.open_connections
            figures = _latencies(swarm)
            result.p50_ms = figures.get("p50", 0.0)
            result.p99_ms = figures.get("p99", 0.0)
            result.max_ms = figures.get("max", 0.0)
            result.first_p50_ms = figures.get("first_p50", 0.0)
            result.last_p50_ms = figures.get("last_p50", 0.0)
            result.spread_p50_ms = figures.get("spread_p50", 0.0)
            result.per_message_first_ms = [
                round(min(m) * 1000, 1) if m else -1.0 for m in swarm.latencies
            ]
            result.per_message_last_ms = [
                round(max(m) * 1000, 1) if m else -1.0 for m in swarm.latencies
            ]

            # 4b. a role change reaches everyone
            await _role_change(http, cast, swarm, result)

            # 5. churn: the same traffic while a few more members connect (new users to the
            #    instance: each one changes its interest)
            if plan.churn_seconds and cast.churn_tokens:
                newcomers = Swarm(cast.server_id, cast.channel_id)
                spacing = plan.churn_seconds / len(cast.churn_tokens)

                async def arrive() -> None:
                    for k, token in enumerate(cast.churn_tokens):
                        await asyncio.sleep(spacing / 2 if k == 0 else spacing)
                        joined = await newcomers.connect(
                            [urls[k % len(urls)]], [token], concurrency=1
                        )
                        result.churn_identify_ms.append(round(joined.identify_ms[0], 1))

                arriving = asyncio.create_task(arrive())
                churn = await _send(
                    http, cast, swarm, max(4, round(plan.churn_seconds * rate)), rate
                )
                await arriving
                figures = _latencies(swarm)
                result.churn_p50_ms = figures.get("p50", 0.0)
                result.churn_max_ms = figures.get("max", 0.0)
                result.churn_delivered = f"{swarm.delivered}/{len(churn.post_ms) * clients}" + (
                    "" if churn.complete else " (time limit)"
                )
                await newcomers.close()
    except _Done:
        pass
    except Exception as exc:  # a run that breaks is reported, and the next one runs
        result.error = f"{type(exc).__name__}: {exc}"[:300]

    # 6. goodbye
    redis_peaks["close"] = 0
    await swarm.close()
    result.closes = dict(swarm.closes)
    await _wait_quiet(pids, others=others, limit=30.0)
    result.rss_after_close_kib = sum(rss_kib(p) for p in pids)
    stop_sampling.set()
    await sampling
    result.redis_clients_peak = redis_peaks
    result.gateway_log = logs.events()
    return result


class _Done(Exception):
    """The run's phases are over early (``--saturate-only``)."""


class _LogWatch:
    """Warnings and errors the gateway logged since this object was made, by event and the
    exception's last line (structlog JSON lines; uvicorn's own lines are skipped)."""

    def __init__(self, paths: list[Path]) -> None:
        self._start = {path: path.stat().st_size if path.exists() else 0 for path in paths}

    def events(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for path, offset in self._start.items():
            with path.open("rb") as f:
                f.seek(offset)
                for line in f:
                    if not line.startswith(b"{"):
                        continue
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if entry.get("level") not in ("warning", "error", "critical"):
                        continue
                    last = (entry.get("exception") or "").strip().splitlines()[-1:]
                    key = entry.get("event", "?") + (f": {last[0]}" if last else "")
                    found[key] = found.get(key, 0) + 1
        return found


# -- reporting ------------------------------------------------------------------------------------


def _print(result: Result) -> None:
    cores = 1 / result.send_wall_s if result.send_wall_s else 0.0
    print(
        f"N={result.clients:<5d} instances={result.instances} path={result.path:6s}"
        f" connect={result.connect_s:6.1f} s (identify p50 {result.identify_p50_ms:.0f} ms,"
        f" p99 {result.identify_p99_ms:.0f} ms, 429 retries {result.upgrade_retries},"
        f" closed before READY {result.identify_failures or 0}) connected={result.connected}"
        f" held={result.held}\n"
        f"    connect + settle ({result.settle_s:.1f} s): CPU "
        + ", ".join(
            f"{name} {seconds:.1f} s"
            for name, seconds in sorted(result.connect_cpu.items(), key=lambda kv: -kv[1])
            if seconds >= 0.05
        )
        + "\n"
        f"    memory: {result.rss_before_kib / 1024:.0f} → {result.rss_idle_kib / 1024:.0f} MiB"
        f" = {result.kib_per_connection:.1f} KiB per idle connection"
        f" (after close {result.rss_after_close_kib / 1024:.0f} MiB);"
        f" idle: gateway {result.idle_cpu.get('gateway', 0):.1%} of a core,"
        f" client {result.idle_cpu.get('client', 0):.1%}\n"
        f"    warm-up: {result.warm_delivered}/{3 * result.clients} delivered in"
        f" {result.warm_up_s:.1f} s\n"
        f"    sent {result.messages} at {result.send_rate:.1f}/s (POST p50"
        f" {result.post_p50_ms:.1f} ms, p99 {result.post_p99_ms:.1f} ms); delivered"
        f" {result.delivered_text}, duplicates {result.duplicates}\n"
        f"    latency p50 {result.p50_ms:.1f} ms  p99 {result.p99_ms:.1f} ms  max"
        f" {result.max_ms:.1f} ms; per message (p50): first {result.first_p50_ms:.1f} ms,"
        f" last {result.last_p50_ms:.1f} ms, spread {result.spread_p50_ms:.1f} ms\n"
        f"    CPU over {result.send_wall_s:.1f} s: "
        + ", ".join(
            f"{name} {seconds:.2f} s ({seconds * cores:.0%})"
            for name, seconds in sorted(result.cpu.items(), key=lambda kv: -kv[1])
        )
        + f"\n    role change: role.updated read by {result.role_change_received}/"
        f"{result.held} clients, p50 {result.role_change_p50_ms:.0f} ms,"
        f" last {result.role_change_max_ms:.0f} ms after the PATCH began"
        + (
            f"\n    churn: {len(result.churn_identify_ms)} newcomers connected (READY after"
            f" {result.churn_identify_ms} ms) while sending: latency p50"
            f" {result.churn_p50_ms:.0f} ms, max {result.churn_max_ms:.0f} ms, delivered"
            f" {result.churn_delivered}"
            if result.churn_identify_ms
            else ""
        )
        + f"\n    Redis connections of the fleet, most at once: {result.redis_clients_peak}"
        + f"\n    gateway {result.us_per_delivery:.1f} µs CPU per delivery"
        f" ({result.net_us_per_delivery:.1f} net of idle); client loop lag p99"
        f" {result.loop_lag_p99_ms:.1f} ms; closes {result.closes}"
        + "".join(f"\n    gateway log: {n} x {event}" for event, n in result.gateway_log.items())
        + "".join(f"\n    {_burst_line(b)}" for b in result.bursts)
        + (f"\n    RUN BROKE: {result.error}" if result.error else ""),
        flush=True,
    )


def _burst_line(b: Burst) -> str:
    shown = sorted(b.cpu_ms_per_message.items(), key=lambda kv: -kv[1])
    total = sum(b.cpu_ms_per_message.values())
    return (
        f"saturating, {b.in_flight} in flight: {b.messages} sent at {b.send_rate:.0f}/s (POST"
        f" p50 {b.post_p50_ms:.1f} ms, p99 {b.post_p99_ms:.1f} ms); delivery p50"
        f" {b.p50_ms:.1f} / p99 {b.p99_ms:.1f} / max {b.max_ms:.1f} ms; delivered"
        f" {b.delivered}/{b.expected} ({b.delivered_share:.2%}); CPU ms per message"
        f" {total:.2f}: "
        + ", ".join(f"{name} {ms:.2f}" for name, ms in shown if ms >= 0.005)
        + "; kernel's share: "
        + ", ".join(f"{name} {b.system_share.get(name, 0):.0%}" for name, ms in shown if ms >= 0.1)
        + "; read/write system calls per message: "
        + ", ".join(
            f"{name} {calls:.1f}"
            for name, calls in sorted(b.syscalls_per_message.items(), key=lambda kv: -kv[1])
            if calls >= 0.05
        )
        + f"; load {b.load_average}, host steal {b.steal_share:.1%}"
    )


def _host_cpu_ticks() -> list[int]:
    """The box's CPU time by kind (/proc/stat's first line: user … idle, iowait … steal)."""
    return [int(ticks) for ticks in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def _steal_share(before: list[int], after: list[int]) -> float:
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / sum(spent) if sum(spent) else 0.0


def _burst_table(results: list[Result]) -> str:
    lines = [
        "| N | instances | in flight | send msg/s | delivery p50 / p99 / max | delivered"
        " | CPU ms / message (all; messages, gateway, nginx, postgres, client) | load | steal |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for b in r.bursts:
            cpu = b.cpu_ms_per_message
            lines.append(
                f"| {r.clients:,} | {r.instances} | {b.in_flight} | {b.send_rate:.0f}"
                f" | {b.p50_ms:.1f} / {b.p99_ms:.1f} / {b.max_ms:.1f} ms"
                f" | {b.delivered_share:.2%} | {sum(cpu.values()):.2f}"
                f" ({cpu.get('messages', 0):.2f}, {cpu.get('gateway', 0):.2f},"
                f" {cpu.get('nginx', 0):.2f}, {cpu.get('postgres', 0):.2f},"
                f" {cpu.get('client', 0):.2f}) | {b.load_average} | {b.steal_share:.1%} |"
            )
    return "\n".join(lines)


def _table(results: list[Result]) -> str:
    lines = [
        "| N | instances | path | p50 | p99 | max | delivered | connect | held"
        " | KiB / idle conn | gateway CPU, send phase | µs CPU / delivery (net of idle)"
        " | client CPU"
        " | max while newcomers connect | role change: last client |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        gateway = r.cpu.get("gateway", 0.0)
        client = r.cpu.get("client", 0.0)
        wall = r.send_wall_s or 1.0
        lines.append(
            f"| {r.clients:,} | {r.instances} | {r.path} | {r.p50_ms:.0f} ms | {r.p99_ms:.0f} ms"
            f" | {r.max_ms:.0f} ms | {r.delivered_text} | {r.connect_s:.1f} s | {r.held:,}"
            f" | {r.kib_per_connection:.0f} | {gateway:.1f} s in {r.send_wall_s:.1f} s"
            f" ({gateway / wall:.0%})"
            f" | {r.us_per_delivery:.0f} ({r.net_us_per_delivery:.0f})"
            f" | {client / wall:.0%} | {r.churn_max_ms:.0f} ms | {r.role_change_max_ms:.0f} ms |"
            + (f" BROKE: {r.error[:80]}" if r.error else "")
        )
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------


def _path_for(fleet: Fleet, clients: int, wanted: str) -> str:
    if wanted != "auto":
        return wanted
    connections, burst = _nginx_capacity(fleet)
    # Each proxied socket holds two nginx connections (client side, upstream side).
    return "nginx" if 2 * clients + 64 <= connections and clients <= burst else "direct"


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench gateway")
    parser.add_argument("--quick", action="store_true", help="N = 20 and 100, 30 messages")
    parser.add_argument("--sizes", type=int, nargs="+", help="numbers of clients")
    parser.add_argument("--instances", type=int, nargs="+", help="gateway instance counts")
    parser.add_argument("--messages", type=int, help="messages per run (every N)")
    parser.add_argument("--rate", type=float, help="messages per second (every N)")
    parser.add_argument(
        "--path",
        choices=("auto", "nginx", "direct"),
        default="auto",
        help="gateway sockets through nginx, straight to the instances, or nginx when it fits",
    )
    parser.add_argument("--connect-concurrency", type=int, default=64)
    parser.add_argument("--no-churn", action="store_true", help="skip the churn phases")
    parser.add_argument(
        "--saturate",
        type=int,
        help="messages of the saturating phase (one at a time, then 16 in flight); 0: none",
    )
    parser.add_argument(
        "--saturate-only",
        action="store_true",
        help="only the saturating phase (no fixed-rate send, role change or churn); N may be 0",
    )
    parser.add_argument(
        "--redis-max-connections",
        type=int,
        default=0,
        help="the services' Redis pool per process (HARMONIQ_REDIS_POOL_MAX); 0: as shipped",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for every service (experiments), e.g."
        " OTEL_PYTHON_LITESTAR_EXCLUDED_URLS=gateway",
    )
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = tuple(args.sizes or base.sizes)
    loads = {}
    for n in sizes:
        messages, rate = base.load(n)
        loads[n] = (args.messages or messages, args.rate or rate)
    plan = Plan(
        sizes,
        tuple(sorted(args.instances or base.instances)),
        loads,
        base.idle_seconds,
        0.0 if args.no_churn or args.saturate_only else base.churn_seconds,
        0 if args.no_churn or args.saturate_only else base.newcomers,
        base.saturate if args.saturate is None else args.saturate,
        args.saturate_only,
    )
    extra = dict(item.split("=", 1) for item in args.env)
    open_files = _raise_open_files()
    # nginx's per-address guard off (every bench request comes from 127.0.0.1), unless asked.
    os.environ.setdefault("HARMONIQ_NGINX_RATE_PER_SECOND", "0")
    if open_files < max(sizes) + 512:
        raise SystemExit(f"open-file limit {open_files} is too low for {max(sizes)} clients")
    print(
        f"# gateway fan-out ({os.cpu_count()} cores): N clients in one server and one channel,"
        " messages through REST; (messages, rate) per N: "
        + ", ".join(f"{n}: {m} at {r:g}/s" for n, (m, r) in loads.items())
        + f"; open-file limit {open_files}; Redis pool {args.redis_max_connections or 'default'}"
        + (f"; env {extra}" if extra else ""),
        flush=True,
    )
    OUT.mkdir(parents=True, exist_ok=True)
    results: list[Result] = []
    started = time.perf_counter()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    with tempfile.TemporaryDirectory(prefix="harmoniq-bench-") as tmp:
        stack = InfraStack(Path(tmp) / "infra")
        with stack as infra:
            redis_url = infra.redis_url
            if args.redis_max_connections:
                extra["HARMONIQ_REDIS_POOL_MAX"] = str(args.redis_max_connections)
            fleet = Fleet(
                infra,
                Path(tmp) / "fleet",
                public_port=free_port(),
                database=f"hq_bench_{secrets.token_hex(3)}",
                namespace="benchgw",
                fixed_ports=False,
                instances={"gateway": plan.instances[0]},
                extra_env={
                    "HARMONIQ_REDIS_URL": redis_url,
                    **CHEAP_ARGON2,
                    "HARMONIQ_AUTH_RATE_LIMIT": "1000000",
                    "HARMONIQ_SEND_RATE_LIMIT": "1000000",
                    "HARMONIQ_ACCESS_TOKEN_TTL_SECONDS": "7200",
                    "HARMONIQ_LOG_LEVEL": "WARNING",
                    **extra,
                },
            )
            fleet.start()
            try:
                connections, burst = _nginx_capacity(fleet)
                print(
                    f"  nginx: {connections} worker connections (≈{connections // 2} proxied"
                    f" sockets), per-address burst {burst}",
                    flush=True,
                )
                cast = uvloop.run(_assemble(fleet, max(sizes), plan.newcomers))
                for instances in plan.instances:
                    for clients in sizes:
                        _fresh_gateways(fleet, instances)
                        result = uvloop.run(
                            _one_run(
                                fleet,
                                stack,
                                infra.redis_url,
                                cast,
                                clients,
                                plan.load(clients),
                                plan,
                                _path_for(fleet, clients, args.path),
                                args.connect_concurrency,
                            )
                        )
                        results.append(result)
                        _print(result)
            finally:
                fleet.stop()
                logs = OUT / f"logs-{stamp}"
                shutil.copytree(fleet.work_dir / "logs", logs, dirs_exist_ok=True)
                nginx_errors = fleet.work_dir / "nginx" / "error.log"
                if nginx_errors.exists():
                    shutil.copy(nginx_errors, logs / "nginx-error.log")
                print(f"# service logs: {logs.relative_to(ROOT)}")
    if not plan.saturate_only:
        print(_table(results))
    if any(r.bursts for r in results):
        print(_burst_table(results))
    print(f"# total {time.perf_counter() - started:.0f} s")
    report = OUT / f"fanout-{stamp}.json"
    report.write_text(json.dumps([asdict(r) for r in results], indent=2))
    print(f"# figures: {report.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
