"""READY for a user in 100 servers with 5,000 text channels, DMs, friends and read states.

Starts the fleet on its own database and namespace (as the other benchmarks do), then,
straight at the services (nginx's per-address guard would throttle the set-up, which is not
what is measured): a writer creates ``--servers`` servers of ``--channels`` text channels each (the default
one plus more), a reader joins them all; the writer posts in ``--active`` channels (one in
five of those mentions the reader, one in ten @everyone), the reader acks half of the active
ones, and has ``--dms`` DMs with as many friends. Then the reader IDENTIFYs ``--samples``
times in a row (a fresh connection each, straight at the gateway instance: one client, so
nginx adds nothing to measure) and each READY is timed from the IDENTIFY frame sent to the
READY frame read. The two questions READY asks of other services are also timed alone over
NATS: guilds' ``user_servers`` and messages' ``read_states``.

Bounded and loopback only. Figures as JSON go to ``.bench/ready/``.

``.venv/bin/python bench/run.py ready [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nats

from harmoniq_common.access import (
    USER_SERVERS,
    USER_SERVERS_PAGE_BYTES,
    ServerSnapshot,
    UserServers,
    UserServersRequest,
)
from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.ids import Snowflake
from harmoniq_common.read_states import READ_STATES, ReadStates, ReadStatesRequest, ServerChannels
from harmoniq_common.testing.infra import InfraStack, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))
from gateway_load import percentile

from fleet import ROOT, Fleet
from gateway_client import GatewayClient

OUT = ROOT / ".bench" / "ready"
NAMESPACE = "benchready"
CHEAP_ARGON2 = {
    "HARMONIQ_ARGON2_TIME_COST": "1",
    "HARMONIQ_ARGON2_MEMORY_KIB": "8192",
    "HARMONIQ_ARGON2_PARALLELISM": "1",
}


class Direct:
    """Requests straight at the service that serves a path (as nginx would route it)."""

    def __init__(self, fleet: Fleet, http: httpx.AsyncClient) -> None:
        self._http = http
        self._ports = {name: procs[0].port for name, procs in fleet.processes.items()}

    def _url(self, path: str) -> str:
        if path.startswith("/api/v1/auth"):
            service = "auth"
        elif "/messages" in path:
            service = "messages"
        else:
            service = "guilds"
        return f"http://127.0.0.1:{self._ports[service]}{path}"

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self._http.request(method, self._url(path), **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)


async def _register(http: Direct, name: str) -> tuple[str, dict[str, str], str]:
    body = await http.post(
        "/api/v1/auth/register",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "correct horse battery",
        },
    )
    body.raise_for_status()
    data = body.json()
    return (
        data["user"]["id"],
        {"Authorization": f"Bearer {data['access_token']}"},
        data["access_token"],
    )


async def _ok(response: Any) -> Any:
    result = await response
    assert result.status_code < 300, result.text
    return result.json() if result.content else None


async def _build(http: Direct, args: argparse.Namespace) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    _, writer, _ = await _register(http, f"writer{tag}")
    reader_id, reader, reader_token = await _register(http, f"reader{tag}")
    gate = asyncio.Semaphore(8)

    async def call(method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        async with gate:
            return await _ok(http.request(method, path, headers=headers, **kw))

    async def one_server(i: int) -> list[str]:
        server = await call("POST", "/api/v1/servers", writer, json={"name": f"S{i}"})
        sid = server["id"]
        await asyncio.gather(
            *(
                call("POST", f"/api/v1/servers/{sid}/channels", writer, json={"name": f"c{k}"})
                for k in range(args.channels - 1)
            )
        )
        channels = await call("GET", f"/api/v1/servers/{sid}/channels", writer)
        texts = [c["id"] for c in channels if c["kind"] == "text"]
        invite = await call("POST", f"/api/v1/channels/{texts[0]}/invites", writer, json={})
        await call("POST", f"/api/v1/invites/{invite['code']}", reader)
        return texts

    began = time.perf_counter()
    per_server = await asyncio.gather(*(one_server(i) for i in range(args.servers)))
    channels = [c for texts in per_server for c in texts]
    active = channels[:: max(1, len(channels) // args.active)][: args.active]

    async def post(index: int, channel: str) -> None:
        content = "news"
        if index % 5 == 0:
            content = f"<@{reader_id}> look"
        elif index % 10 == 1:
            content = "@everyone meeting"
        message = await call(
            "POST", f"/api/v1/channels/{channel}/messages", writer, json={"content": content}
        )
        if index % 2 == 0:
            await call("POST", f"/api/v1/channels/{channel}/messages/{message['id']}/ack", reader)

    await asyncio.gather(*(post(i, c) for i, c in enumerate(active)))
    for d in range(args.dms):
        friend_id, friend, _ = await _register(http, f"friend{d}{tag}")
        await call(
            "PUT", f"/api/v1/users/@me/relationships/{reader_id}", friend, json={"kind": "friend"}
        )
        await call(
            "PUT", f"/api/v1/users/@me/relationships/{friend_id}", reader, json={"kind": "friend"}
        )
        dm = await call(
            "POST", "/api/v1/users/@me/channels", friend, json={"recipient_ids": [reader_id]}
        )
        await call(
            "POST",
            f"/api/v1/channels/{dm['id']}/messages",
            friend,
            json={"content": f"hi <@{reader_id}>"},
        )
    print(
        f"  built {args.servers} servers, {len(channels)} text channels, {len(active)} active,"
        f" {args.dms} DMs in {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    return {"reader_id": reader_id, "token": reader_token, "channels": len(channels)}


async def _ready_times(url: str, token: str, samples: int) -> tuple[list[float], dict[str, Any]]:
    times: list[float] = []
    last: dict[str, Any] = {}
    for _ in range(samples):
        client = await GatewayClient.connect(url)
        began = time.perf_counter()
        await client.send(2, {"token": token, "properties": {"os": "bench"}})
        ready = await client.dispatch("ready", timeout=60)
        times.append((time.perf_counter() - began) * 1000)
        last = ready["d"]
        await client.close()
    return times, last


async def _rpc_times(nats_url: str, user_id: str, samples: int) -> dict[str, list[float]]:
    nc = await nats.connect(nats_url)
    subjects = Subjects(NAMESPACE)
    out: dict[str, list[float]] = {"user_servers": [], "read_states": []}
    try:
        for _ in range(samples):
            began = time.perf_counter()
            snapshots: list[ServerSnapshot] = []
            after, more = 0, True
            while more:  # paged, as the gateway asks
                page = await request(
                    nc,
                    subjects.rpc("guilds", USER_SERVERS),
                    UserServersRequest(
                        user_id=Snowflake(int(user_id)),
                        after=after,
                        page_bytes=USER_SERVERS_PAGE_BYTES,
                    ),
                    UserServers,
                    timeout=60,
                )
                snapshots.extend(page.servers)
                more = page.more and bool(page.servers)
                after = int(snapshots[-1].server.id) if snapshots else 0
            out["user_servers"].append((time.perf_counter() - began) * 1000)
            question = ReadStatesRequest(
                user_id=Snowflake(int(user_id)),
                servers=[
                    ServerChannels(
                        server_id=s.server.id,
                        role_ids=[Snowflake(g.id) for g in s.access.member_roles],
                        channel_ids=[c.channel_id for c in s.access.channels if c.kind == "text"],
                    )
                    for s in snapshots
                ],
            )
            began = time.perf_counter()
            await request(
                nc, subjects.rpc("messages", READ_STATES), question, ReadStates, timeout=60
            )
            out["read_states"].append((time.perf_counter() - began) * 1000)
    finally:
        await nc.close()
    return out


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ready")
    parser.add_argument("--servers", type=int, default=100)
    parser.add_argument("--channels", type=int, default=50, help="text channels per server")
    parser.add_argument("--active", type=int, default=1000, help="channels with a message")
    parser.add_argument("--dms", type=int, default=20)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="10 servers x 10 channels")
    args = parser.parse_args(argv)
    if args.quick:
        args.servers, args.channels, args.active, args.dms, args.samples = 10, 10, 40, 3, 10
    print(f"READY: {args.servers} servers x {args.channels} text channels", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="harmoniq-bench-") as tmp,
        InfraStack(Path(tmp) / "infra") as infra,
    ):
        fleet = Fleet(
            infra,
            Path(tmp) / "fleet",
            public_port=free_port(),
            database=f"hq_bench_{secrets.token_hex(3)}",
            namespace=NAMESPACE,
            fixed_ports=False,
            extra_env={
                **CHEAP_ARGON2,
                "HARMONIQ_AUTH_RATE_LIMIT": "1000000",
                "HARMONIQ_SEND_RATE_LIMIT": "1000000",
                "HARMONIQ_DM_OPEN_RATE_LIMIT": "1000000",
                "HARMONIQ_RELATIONSHIP_RATE_LIMIT": "1000000",
                "HARMONIQ_ACK_COALESCE_SECONDS": "0",
                "HARMONIQ_ACCESS_TOKEN_TTL_SECONDS": "7200",
                "HARMONIQ_LOG_LEVEL": "WARNING",
            },
        )
        fleet.start()
        try:
            asyncio.run(_run(fleet, infra.nats_url, args))
        finally:
            fleet.stop()


async def _run(fleet: Fleet, nats_url: str, args: argparse.Namespace) -> None:
    async with httpx.AsyncClient(timeout=120) as http:
        cast = await _build(Direct(fleet, http), args)
    gateway = fleet.processes["gateway"][0]
    url = f"ws://127.0.0.1:{gateway.port}/gateway"
    times, ready = await _ready_times(url, cast["token"], args.samples)
    rpc = await _rpc_times(nats_url, cast["reader_id"], min(args.samples, 20))
    size = len(json.dumps(ready))
    result = {
        "servers": len(ready["servers"]),
        "text_channels": cast["channels"],
        "read_states": len(ready["read_states"]),
        "dm_channels": len(ready["dm_channels"]),
        "relationships": len(ready["relationships"]),
        "ready_bytes_json": size,
        "ready": _summary(times),
        "user_servers_rpc": _summary(rpc["user_servers"]),
        "read_states_rpc": _summary(rpc["read_states"]),
        "samples": args.samples,
    }
    print(json.dumps(result, indent=2), flush=True)
    (OUT / f"ready-{time.strftime('%Y%m%dT%H%M%S')}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
