"""The Locust scenario of ``make load`` (bench/load/locustfile.py), small, against the fleet.

A handful of people run the whole scenario for a few seconds through nginx: every kind of
request it makes succeeds, each person reaches READY on the gateway, and messages sent over REST
are measured arriving on other people's sockets. The 1,000-person run and its figures are in
docs/performance.md ("Load test").
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from fleet import ROOT, Fleet

pytestmark = pytest.mark.fleet

PEOPLE = 6


@pytest.fixture(scope="module")
def fleet_env() -> dict[str, str]:
    """Every registration comes from one address (the per-address limit is 5 a minute)."""
    return {"HARMONIQ_AUTH_RATE_LIMIT": "1000", "HARMONIQ_SEND_RATE_LIMIT": "1000"}


@pytest.mark.timeout(180)
def test_the_load_scenario_runs_cleanly_against_the_fleet(fleet: Fleet, tmp_path: Path) -> None:
    prefix = tmp_path / "load"
    command = [
        sys.executable, "bench/load_run.py", "--host", fleet.url, "--users", str(PEOPLE),
        "--spawn-rate", str(PEOPLE), "--run-time", "25s", "--csv", str(prefix),
    ]  # fmt: skip
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    with Path(f"{prefix}_stats.csv").open(newline="") as stats:
        rows = {f"{r['Type']} {r['Name']}": r for r in csv.DictReader(stats)}
    failures = {name: r["Failure Count"] for name, r in rows.items() if r["Failure Count"] != "0"}
    assert failures == {}, failures
    counts = {name: int(r["Request Count"]) for name, r in rows.items()}
    assert counts["POST /api/v1/auth/register"] == PEOPLE
    assert counts["POST /api/v1/invites/[code]"] == PEOPLE - 1  # all but the room's creator
    assert counts["WS connect to READY"] == PEOPLE
    assert counts["GET /api/v1/channels/[id]/messages?limit=50"] > 0
    # At least one message went out, and reached the other five people's sockets.
    assert counts["POST /api/v1/channels/[id]/messages"] > 0
    assert counts["WS message.create delivery"] >= PEOPLE - 1, counts
