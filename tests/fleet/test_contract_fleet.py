"""The fleet keeps its contract with arbitrary clients, through the real nginx.

Schemathesis generates requests from each service's own OpenAPI document (bounded: a fixed
number of examples per operation, a fixed seed) and sends them through nginx with a real
user's token: no answer may be a server error, and every answer must be one the document
declares, with the declared content type and body schema. And the gateway, as deployed,
refuses oversized frames before buffering them.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import websockets
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fleet import Fleet
from media_testing import png

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BOUNDED = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
# Ending the prober's own session would turn every later request into a 401.
SESSION_ENDING = ("logout", "logoutAll", "deleteMe")


class Prober:
    """A real user with a server, a channel and a message, whose ids replace generated ones
    so that requests reach the handlers rather than stopping at "unknown server"."""

    def __init__(self, http: httpx.Client) -> None:
        self.statuses: Counter[int] = Counter()
        name = f"probe{secrets.token_hex(4)}"
        registered = http.post(
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": "x" * 12},
        )
        assert registered.status_code == 201, registered.text
        self.headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        self.ids: dict[str, str] = {}

    def furnish(self, http: httpx.Client) -> None:
        """A fresh server, channel, message, upload and webhook (a run may delete the previous
        ones). The run before may have spent this address's or this person's allowance: a 429
        is waited out as it asks (Retry-After)."""

        def accepted(method: str, path: str, **kwargs: Any) -> httpx.Response:
            for _ in range(10):
                response = http.request(method, path, headers=self.headers, **kwargs)
                if response.status_code != 429:
                    break
                time.sleep(float(response.headers.get("Retry-After", "1")))  # as asked
            return response

        server = accepted("POST", "/api/v1/servers", json={"name": "Probed"})
        assert server.status_code == 201, server.text
        server_id = server.json()["id"]
        channels = accepted("GET", f"/api/v1/servers/{server_id}/channels")
        channel_id = next(c["id"] for c in channels.json() if c["kind"] == "text")
        message = accepted(
            "POST", f"/api/v1/channels/{channel_id}/messages", json={"content": "hi"}
        )
        assert message.status_code == 201, message.text
        upload = accepted(
            "POST",
            "/api/v1/media/upload",
            data={"purpose": "attachment"},
            files={"file": ("probe.png", png(8, 8), "image/png")},
        )
        assert upload.status_code == 201, upload.text
        webhook = accepted(
            "POST",
            f"/api/v1/servers/{server_id}/webhooks",
            json={"channel_id": channel_id, "name": "probe"},
        )
        assert webhook.status_code == 201, webhook.text
        self.ids = {
            "server_id": server_id,
            "channel_id": channel_id,
            "message_id": message.json()["id"],
            "media_id": upload.json()["id"],
            "webhook_id": webhook.json()["id"],
            "token": webhook.json()["token"],
        }

    def send(self, case: Any, base_url: str) -> None:
        if case.path_parameters:
            case.path_parameters = {
                name: self.ids.get(name, value) for name, value in case.path_parameters.items()
            }
        response = case.call_and_validate(base_url=base_url, headers=self.headers, checks=CHECKS)
        self.statuses[response.status_code] += 1


def _operations(fleet: Fleet, service: str) -> list[Any]:
    port = fleet.processes[service][0].port
    raw = httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json", timeout=10).json()
    operations = []
    for result in schemathesis.openapi.from_dict(raw).get_all_operations():
        assert not isinstance(result, Err), f"{service}'s schema: {result.err()}"
        operations.append(result.ok())
    return [op for op in operations if op.definition.raw.get("operationId") not in SESSION_ENDING]


@pytest.fixture(scope="module")
def fleet_env() -> dict[str, str]:
    """One prober furnishes a file per run and media's run uploads many: the per-user upload
    limit (30/min) is tested in media's own suite, not here."""
    return {"HARMONIQ_UPLOAD_RATE_LIMIT": "100000"}


@pytest.fixture(scope="module")
def prober(fleet: Fleet) -> Prober:
    with httpx.Client(base_url=fleet.url, timeout=10) as http:
        return Prober(http)


@pytest.fixture
def furnished(fleet: Fleet, prober: Prober) -> Prober:
    with httpx.Client(base_url=fleet.url, timeout=10) as http:
        prober.furnish(http)
    prober.statuses.clear()
    return prober


# media last: its run spends the prober's upload allowance, which furnishing needs.
@pytest.mark.parametrize("service", ["auth", "guilds", "messages", "voice", "bots", "media"])
def test_every_operation_keeps_its_contract(fleet: Fleet, furnished: Prober, service: str) -> None:
    """Valid and invalid requests alike (schemathesis's positive and negative modes)."""
    failures = []
    for operation in _operations(fleet, service):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @BOUNDED
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                furnished.send(case, fleet.url)

            try:
                run()
            except Unsatisfiable:  # nothing to break: no parameters, or unconstrained ones
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # a failed check: gather them all, then report
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)
    answered = sorted(furnished.statuses.items())
    assert sum(n for status, n in answered if status < 300) >= 20, (
        f"few reached handlers: {answered}"
    )


def _peak_rss_kib(pid: int) -> int:
    """The most memory the process has ever held (VmHWM): buffered frames are freed again
    once their connections close, so the current RSS afterwards would not show them."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def _send_oversized(url: str, size: int) -> int | None:
    """One unauthenticated frame of ``size`` bytes; the close code the gateway answered."""
    async with websockets.connect(url, max_size=2**24) as connection:
        await connection.recv()  # HELLO
        try:
            await connection.send(b"x" * size)
            await connection.recv()
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
    return None


async def test_oversized_frames_are_refused_before_they_are_buffered(fleet: Fleet) -> None:
    """Ten 15 MiB frames took an idle gateway from 88 to 360 MiB when uvicorn buffered up to
    its 16 MiB default; as deployed (deploy/services.toml), each closes with 1009 at once.
    Straight to the gateway's uvicorn: through nginx the close frame is lost in the reset of
    a connection still sending."""
    gateway = fleet.processes["gateway"][0]
    url = f"ws://127.0.0.1:{gateway.port}/gateway"
    before = _peak_rss_kib(gateway.popen.pid)
    codes = await asyncio.gather(*(_send_oversized(url, 15 << 20) for _ in range(10)))
    grown = _peak_rss_kib(gateway.popen.pid) - before
    assert codes == [1009] * 10
    assert grown < 32 * 1024, f"the gateway's peak grew by {grown} KiB"


# Metrics an alert or a dashboard may query without a Harmoniq service exporting them.
_FROM_ELSEWHERE = re.compile(r"up|node_\w+")  # Prometheus's own, node-exporter's
_PROMQL_WORDS = {"by", "without", "and", "or", "unless", "offset", "bool", "on", "ignoring",
                 "group_left", "group_right", "le", "inf"}  # fmt: skip


_SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def _queried_metrics() -> set[str]:
    monitoring = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
    expressions = [
        rule["expr"]
        for group in yaml.safe_load((monitoring / "alerts.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    for dashboard in (monitoring / "grafana" / "dashboards").glob("*.json"):
        for panel in json.loads(dashboard.read_text())["panels"]:
            expressions += [target["expr"] for target in panel["targets"]]
    names = set()
    for expression in expressions:
        # Drop label matchers, strings, ranges and grouping clauses; what is left before no
        # "(" is a metric name (a name followed by "(" is a function or aggregation).
        bare = re.sub(r'\{[^}]*\}|"[^"]*"|\[[^\]]*\]', " ", expression)
        bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
        for match in re.finditer(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()", bare):
            if match.group().lower() not in _PROMQL_WORDS:
                names.add(match.group())
    return names


def test_every_metric_the_alerts_and_dashboards_query_is_exported(
    fleet: Fleet, furnished: Prober
) -> None:
    """deploy/monitoring queries names the running services really export: a renamed metric
    would leave an alert silent forever."""
    exported: set[str] = set()
    for processes in fleet.processes.values():
        for process in processes:
            text = httpx.get(f"http://127.0.0.1:{process.port}/metrics", timeout=10).text
            for family in text_string_to_metric_families(text):
                # Declared counts even before its first sample (a label set not seen yet).
                suffixes = _SAMPLE_SUFFIXES.get(family.type, ("",))
                exported.update(family.name + suffix for suffix in suffixes)
    queried = _queried_metrics()
    assert {"harmoniq_requests_total", "harmoniq_outbox_backlog", "up"} <= queried  # parsed
    missing = {
        name for name in queried if name not in exported and not _FROM_ELSEWHERE.fullmatch(name)
    }
    assert not missing, f"queried but exported by no service: {sorted(missing)}"
