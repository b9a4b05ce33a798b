"""Webhooks: executions per second and their latency (1 and 16 in flight), the time from
an execution's answer to the message.create a member's gateway session receives, and the
outgoing delivery latency: from posting a message to its signed ``message.create`` delivery
arriving at an endpoint (a receiver on loopback, private targets allowed for the bench).

Starts the fleet on its own database and namespace with the per-webhook limit lifted (5 per
2 s would be what is measured), then executes one webhook ``n`` times without ``wait``
straight to the bots service (through nginx, its 50 r/s per-address guard would be what is
measured, as in the media benchmark), and ``n`` times with ``wait=true`` through nginx with a
member on the gateway (through nginx), one at a time.

Loopback only, bounded counts; figures are printed, never judged.
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
from typing import Any

import httpx

from harmoniq_common.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from harmoniq_common.testing.infra import InfraStack, free_port

from fleet import Fleet
from gateway_client import GatewayClient
from webhook_receiver import Receiver


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _setup(url: str) -> tuple[dict[str, Any], str]:
    """A user with a server and a webhook in its text channel: the webhook, the user's token."""
    with httpx.Client(base_url=url, timeout=10) as http:
        name = f"bench{secrets.token_hex(3)}"
        user = http.post(
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": "x" * 12},
        ).json()
        headers = {"Authorization": f"Bearer {user['access_token']}"}
        server = http.post("/api/v1/servers", json={"name": "Bench"}, headers=headers).json()
        channels = http.get(f"/api/v1/servers/{server['id']}/channels", headers=headers).json()
        channel = next(c for c in channels if c["kind"] == "text")
        hook = http.post(
            f"/api/v1/servers/{server['id']}/webhooks",
            json={"channel_id": channel["id"], "name": "bench"},
            headers=headers,
        )
        hook.raise_for_status()
        return hook.json(), user["access_token"]


async def _executions(base: str, hook: dict[str, Any], count: int, in_flight: int) -> list[float]:
    """Latencies (ms) of ``count`` executions, ``in_flight`` at a time; 204 each."""
    gate = asyncio.Semaphore(in_flight)
    body = {"content": "deployed", "embeds": [{"title": "Build", "color": 65280}]}

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one() -> float:
            async with gate:
                start = time.perf_counter()
                response = await client.post(hook["url"], json=body)
                assert response.status_code == 204, response.text
                return (time.perf_counter() - start) * 1000

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def _delivery(url: str, hook: dict[str, Any], token: str, count: int) -> list[float]:
    """ms from sending an execution to its message.create on the owner's gateway session."""
    gateway = await GatewayClient.connect(url.replace("http://", "ws://") + "/gateway")
    await gateway.identify(token)
    gateway.start_heartbeats()
    delays = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(count):
            start = time.perf_counter()
            response = await client.post(hook["url"], json={"content": f"m{i}"})
            assert response.status_code == 204, response.text
            await gateway.dispatch("message.create")
            delays.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.03)  # under nginx's 50 r/s per-address guard
    await gateway.close()
    return delays


def _outgoing(url: str, hook: dict[str, Any], token: str, count: int) -> list[float]:
    """ms from sending an execution to its signed delivery at a registered endpoint."""
    receiver = Receiver()
    headers = {"Authorization": f"Bearer {token}"}
    delays = []
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            made = http.post(
                f"/api/v1/servers/{hook['server_id']}/outgoing-webhooks",
                json={"url": receiver.url, "events": ["message.create"]},
                headers=headers,
            )
            made.raise_for_status()
            secret = made.json()["secret"]
            for i in range(count):
                start = time.monotonic()
                response = http.post(hook["url"], json={"content": f"o{i}"})
                assert response.status_code == 204, response.text
                got = asyncio.run(receiver.next())
                assert verify(
                    secret, got.headers[TIMESTAMP_HEADER], got.headers[SIGNATURE_HEADER], got.body
                )
                delays.append((got.at - start) * 1000)
                time.sleep(0.03)  # under nginx's 50 r/s per-address guard
    finally:
        receiver.close()
    return delays


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench webhooks")
    parser.add_argument("--quick", action="store_true", help="fewer executions")
    args = parser.parse_args(argv)
    count, delivered = (200, 30) if args.quick else (1000, 100)
    print(f"# webhooks ({os.cpu_count()} cores, loopback)")
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
            extra_env={
                "HARMONIQ_AUTH_RATE_LIMIT": "1000",
                "HARMONIQ_WEBHOOK_EXECUTE_RATE_LIMIT": "1000000",
                "HARMONIQ_LOG_LEVEL": "WARNING",
                "HARMONIQ_OUTGOING_ALLOW_PRIVATE_TARGETS": "true",
            },
        )
        fleet.start()
        try:
            hook, token = _setup(fleet.url)
            bots = f"http://127.0.0.1:{fleet.processes['bots'][0].port}"
            asyncio.run(_executions(bots, hook, 20, 4))  # warm-up
            for in_flight in (1, 16):
                start = time.perf_counter()
                times = asyncio.run(_executions(bots, hook, count, in_flight))
                rate = count / (time.perf_counter() - start)
                print(
                    f"execute (to bots) in flight={in_flight:<2d} n={count} {rate:7.1f}/s  "
                    f"p50={statistics.median(times):6.1f} ms  p99={_percentile(times, 0.99):6.1f} ms"
                )
            delays = asyncio.run(_delivery(fleet.url, hook, token, delivered))
            print(
                f"execute -> message.create on the gateway (through nginx) n={delivered}  "
                f"p50={statistics.median(delays):6.1f} ms  p99={_percentile(delays, 0.99):6.1f} ms"
            )
            outgoing = _outgoing(fleet.url, hook, token, delivered)
            print(
                f"execute -> signed outgoing delivery received n={delivered}  "
                f"p50={statistics.median(outgoing):6.1f} ms  "
                f"p99={_percentile(outgoing, 0.99):6.1f} ms"
            )
        finally:
            fleet.stop()
