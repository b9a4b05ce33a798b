"""``python -m harmoniq_voice.doctor``: the voice doctor from a shell, with the service's own
settings (``HARMONIQ_TURN_*``): exit status 0 when TURN works, 1 when it does not, and the
diagnosis in plain words either way."""

from __future__ import annotations

import asyncio
import sys

import msgspec

from harmoniq_common.settings import load_settings

from .domain.doctor import Doctor
from .settings import VoiceSettings

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    settings = load_settings(VoiceSettings)
    report = asyncio.run(Doctor(settings).run())
    if "--json" in args:
        print(msgspec.json.encode(report).decode())
    else:
        for check in report.checks:
            print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        print(report.diagnosis)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
