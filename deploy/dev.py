"""``make dev``: the whole fleet on this machine, until Ctrl-C.

Postgres, Redis and NATS come from ``HARMONIQ_POSTGRES_URL`` / ``HARMONIQ_REDIS_URL`` /
``HARMONIQ_NATS_URL`` when set; otherwise embedded ones start from the pip wheels and keep their
data in ``.dev/infra`` between runs. nginx listens on ``HARMONIQ_PUBLIC_PORT`` (8080).
``HARMONIQ_DEV_INSTANCES=auth=2,…`` runs several instances of a service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harmoniq_common.testing.infra import InfraStack
from harmoniq_common.testing.s3 import S3Stack

from fleet import ROOT, Fleet
from turn_server import TurnStack, turnserver_binary


def _instances(spec: str) -> dict[str, int]:
    counts = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        counts[name] = int(count or 1)
    return counts


def main() -> int:
    work = ROOT / ".dev"
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if turnserver_binary() is None:
        print("coturn is missing (bash deploy/install-system-deps.sh): no TURN for voice")
    with (
        InfraStack(work / "infra", persistent=True) as infra,
        S3Stack(work / "infra" / "s3") as s3,  # moto keeps files in memory only
        # A fresh shared secret per run, given to the voice service only.
        TurnStack(work / "infra" / "turn")
        if turnserver_binary()
        else contextlib.nullcontext() as turn,
    ):
        fleet = Fleet(
            infra,
            work,
            s3=s3,
            turn=turn,
            public_port=int(os.environ.get("HARMONIQ_PUBLIC_PORT", "8080")),
            namespace=os.environ.get("HARMONIQ_NAMESPACE", "harmoniq"),
            instances=_instances(os.environ.get("HARMONIQ_DEV_INSTANCES", "")),
            web_root=ROOT / "web" / "dist",  # built by `make web` (a prerequisite of make dev)
        )
        fleet.start()
        try:
            names = ", ".join(
                f"{p.name} :{p.port}" for group in fleet.processes.values() for p in group
            )
            print(f"\nHarmoniq is up at {fleet.url}  ({names})", flush=True)
            print(f"  try: curl {fleet.url}/api/v1/auth/jwks", flush=True)
            print(f"  logs: {work / 'logs'}   Ctrl-C stops everything.\n", flush=True)
            while not stop.wait(1.0):
                for group in fleet.processes.values():
                    for process in group:
                        if process.popen.poll() is not None:
                            print(
                                f"{process.name} exited ({process.popen.returncode}); "
                                f"see {process.log_path}",
                                flush=True,
                            )
                            stop.set()
        finally:
            print("stopping…", flush=True)
            fleet.stop()
    print("stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
