"""``make bench``: run every benchmark and print its figures (never a pass/fail gate)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "deploy"))

import auth_latency


def main() -> int:
    auth_latency.main(sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
