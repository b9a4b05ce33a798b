"""``make bench``: run every benchmark and print its figures (never a pass/fail gate).

``bench/run.py`` runs them all with their defaults, one after the other, each on its own fleet;
``bench/run.py NAME [ARGS…]`` runs one with its own arguments (``auth --requests 50``,
``messages --quick``, ``gateway --quick``, ``rows --page 100``, ``media --quick``, ``ready --quick``, ``webhooks --quick``,
``voice --quick``, ``floor``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

import gateway_fanout
import media_bench
import messages_bench
import ready_bench
import record_conversion
import voice_bench
import webhooks_bench
import websocket_floor

import auth_latency

BENCHMARKS: dict[str, Callable[[list[str]], None]] = {
    "auth": auth_latency.main,
    "messages": messages_bench.main,
    "gateway": gateway_fanout.main,
    "rows": record_conversion.main,
    "media": media_bench.main,
    "ready": ready_bench.main,
    "webhooks": webhooks_bench.main,
    "voice": voice_bench.main,
    "floor": websocket_floor.main,
}


def main(argv: list[str]) -> int:
    if argv and argv[0] in BENCHMARKS:
        BENCHMARKS[argv[0]](argv[1:])
        return 0
    if argv:
        print(f"usage: run.py [{'|'.join(BENCHMARKS)} [ARGS…]]", file=sys.stderr)
        return 2
    for run in BENCHMARKS.values():
        run([])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
