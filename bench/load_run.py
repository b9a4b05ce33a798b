"""``make load``: the Locust scenario (``bench/load/locustfile.py``), bounded, and its figures.

``make load HOST=https://chat.example.com`` runs it against that deployment; without ``HOST``
it starts a fleet of its own on loopback (embedded Postgres/Redis/NATS, the object store, nginx
with the per-address limit raised, registrations and sends unthrottled: all the traffic comes
from one address) and stops it afterwards. Either way Locust runs headless for ``--run-time``
and stops by itself; the table printed is from its CSV statistics (kept under ``.bench/load``).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))

from messages_bench import BenchFleet

from harmoniq_common.testing.infra import InfraStack, free_port
from harmoniq_common.testing.s3 import S3Stack

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
OUT = ROOT / ".bench" / "load"
# Whatever one address does in a load run: nothing here may be throttled but the fleet itself.
# Password hashing is made cheap: argon2's cost is deliberate and measured by `bench auth`; at
# its production cost, 1,000 sign-ups would be the whole run on a small machine.
UNTHROTTLED = {
    "HARMONIQ_AUTH_RATE_LIMIT": "1000000",
    "HARMONIQ_SEND_RATE_LIMIT": "1000000",
    "HARMONIQ_ARGON2_TIME_COST": "1",
    "HARMONIQ_ARGON2_MEMORY_KIB": "8192",
    "HARMONIQ_ARGON2_PARALLELISM": "1",
    "HARMONIQ_LOG_LEVEL": "WARNING",
}
COLUMNS = ("Request Count", "Failure Count", "50%", "95%", "99%", "Max Response Time", "Requests/s")


def run_locust(host: str, users: int, spawn_rate: float, run_time: str, prefix: Path) -> int:
    """Locust headless against ``host``; its exit status (1 when any request failed)."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--users", str(users), "--spawn-rate", str(spawn_rate), "--run-time", run_time,
        "--host", host, "--csv", str(prefix), "--only-summary", "--stop-timeout", "10",
        "--loglevel", "WARNING",
    ]  # fmt: skip
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with Path(f"{prefix}_stats.csv").open(newline="") as stats:
        return list(csv.DictReader(stats))


def print_stats(rows: list[dict[str, str]]) -> None:
    width = max(len(f"{r['Type']} {r['Name']}") for r in rows)
    print(f"{'request (ms)':<{width}}  " + "  ".join(f"{c:>13}" for c in COLUMNS))
    for row in rows:
        label = f"{row['Type']} {row['Name']}".strip()
        cells = (f"{float(row[c] or 0):>13.{1 if c == 'Requests/s' else 0}f}" for c in COLUMNS)
        print(f"{label:<{width}}  " + "  ".join(cells))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make load", description=__doc__)
    parser.add_argument("--host", help="a deployment's base URL (default: a fleet of its own)")
    parser.add_argument("--users", type=int, default=1000, help="concurrent people")
    parser.add_argument("--spawn-rate", type=float, default=10, help="people started a second")
    parser.add_argument("--run-time", default="240s", help="how long Locust runs (e.g. 90s)")
    parser.add_argument("--csv", type=Path, help="Locust's CSV prefix (default under .bench)")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    prefix = args.csv or OUT / time.strftime("%Y%m%d-%H%M%S")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"# load: {args.users} people, {args.spawn_rate}/s, {args.run_time} "
          f"({os.cpu_count()} cores, load average {load})", flush=True)  # fmt: skip
    if args.host:
        status = run_locust(args.host, args.users, args.spawn_rate, args.run_time, prefix)
    else:
        with (
            tempfile.TemporaryDirectory(prefix="harmoniq-load-") as tmp,
            InfraStack(Path(tmp) / "infra") as infra,
            S3Stack(Path(tmp) / "s3") as s3,
        ):
            fleet = BenchFleet(
                infra, Path(tmp) / "fleet", public_port=free_port(), namespace="load",
                database="hq_load", fixed_ports=False, s3=s3, extra_env=UNTHROTTLED,
            )  # fmt: skip
            fleet.start()
            try:
                status = run_locust(fleet.url, args.users, args.spawn_rate, args.run_time, prefix)
            finally:
                fleet.stop()
    print_stats(read_stats(prefix))
    print(f"# statistics: {prefix}_stats.csv (locust exit status {status})")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
