"""``python -m harmoniq_voice.doctor``: the voice doctor from a shell, with the service's own
settings (``HARMONIQ_TURN_*``): exit status 0 when TURN works, 1 when it does not, and the
diagnosis in plain words either way."""

from __future__ import annotations

import argparse
import asyncio
import sys

import msgspec

from harmoniq_common.settings import load_settings

from .domain.doctor import Doctor
from .settings import VoiceSettings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harmoniq_voice.doctor",
        description="Check with freshly minted credentials that TURN answers, accepts them and "
        "allocates a relay (settings: HARMONIQ_TURN_URLS, HARMONIQ_TURN_SECRET, "
        "HARMONIQ_TURN_DOCTOR_URL). Exit status 0 when it works, 1 when it does not.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    settings = load_settings(VoiceSettings)
    report = asyncio.run(Doctor(settings).run())
    if args.json:
        print(msgspec.json.encode(report).decode())
    else:
        for check in report.checks:
            print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        print(report.diagnosis)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
