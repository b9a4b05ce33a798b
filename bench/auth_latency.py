"""Register and login latency through nginx, with production argon2 parameters.

Starts the fleet on its own database and namespace (embedded Postgres/Redis/NATS unless
``HARMONIQ_*_URL`` are given), then, for each concurrency level, sends ``--requests`` register
calls and as many login calls (loopback only, bounded) and prints p50/p99/max and throughput.
The 5/min credential limit is raised for the run: it would otherwise be the thing measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from harmoniq_common.testing.infra import InfraStack, free_port

from fleet import Fleet


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(
    url: str, service_url: str, requests: int, concurrency: int
) -> dict[str, list[float]]:
    tag = secrets.token_hex(3)
    timings: dict[str, list[float]] = {"register": [], "login": []}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=url, timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def one(kind: str, n: int) -> None:
            name = f"b{tag}{n}"
            if kind == "register":
                path = "/api/v1/auth/register"
                body = {
                    "username": name,
                    "email": f"{name}@bench.example",
                    "password": "benchmark password",
                }
                expected = 201
            else:
                path = "/api/v1/auth/login"
                body = {"login": name, "password": "benchmark password"}
                expected = 200
            async with gate:
                start = time.perf_counter()
                response = await client.post(path, json=body)
                timings[kind].append((time.perf_counter() - start) * 1000)
            if response.status_code != expected:
                raise RuntimeError(f"{kind} {response.status_code}: {response.text}")

        for kind in ("register", "login"):
            await asyncio.gather(*(one(kind, n) for n in range(requests)))

        # Without argon2: verify the token (signature + Redis revocation MGET) and read the
        # account, to show what the platform itself costs per request. Straight to the
        # service: through nginx the 50 r/s per-address guard would be what is measured.
        login = await client.post(
            "/api/v1/auth/login", json={"login": f"b{tag}0", "password": "benchmark password"}
        )
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        timings["me"] = []

        async def me() -> None:
            async with gate:
                start = time.perf_counter()
                response = await client.get(f"{service_url}/api/v1/auth/me", headers=headers)
                timings["me"].append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"me {response.status_code}: {response.text}")

        await asyncio.gather(*(me() for _ in range(requests * 5)))
    return timings


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench auth")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    print(
        f"# auth latency ({os.cpu_count()} cores, argon2id t=3 m=64MiB p=4): register and"
        " login through nginx, me straight to the service"
    )
    with (
        tempfile.TemporaryDirectory(prefix="harmoniq-bench-") as tmp,
        InfraStack(Path(tmp) / "infra") as infra,
    ):
        fleet = Fleet(
            infra,
            Path(tmp) / "fleet",
            public_port=free_port(),
            database=f"hq_bench_{secrets.token_hex(3)}",
            namespace="bench",
            fixed_ports=False,
            extra_env={"HARMONIQ_AUTH_RATE_LIMIT": "1000000", "HARMONIQ_LOG_LEVEL": "WARNING"},
        )
        fleet.start()
        try:
            service_url = f"http://127.0.0.1:{fleet.processes['auth'][0].port}"
            asyncio.run(_run(fleet.url, service_url, 10, 1))  # warm-up: pools, caches
            for concurrency in args.concurrency:
                timings = asyncio.run(_run(fleet.url, service_url, args.requests, concurrency))
                for kind, values in timings.items():
                    print(
                        f"{kind:9s} concurrency={concurrency:<3d} n={len(values):<5d} "
                        f"p50={statistics.median(values):7.1f} ms  "
                        f"p99={_percentile(values, 0.99):7.1f} ms  "
                        f"max={max(values):7.1f} ms  "
                        f"~{len(values) / sum(values) * 1000 * concurrency:7.1f} req/s"
                    )
        finally:
            fleet.stop()
