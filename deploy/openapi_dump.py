"""Write each service's OpenAPI document as JSON, for the web client's generated API types.

    python deploy/openapi_dump.py OUTDIR

Builds every app of ``deploy/services.toml`` in-process (``create_app()`` with default
settings: no lifespan runs, so nothing is started or connected) and writes
``OUTDIR/<service>.json`` with sorted keys, so that the same code always gives the same bytes
and ``web/scripts/gen-api-types.mjs --check`` can tell when the committed types are stale.
Services without HTTP routes of their own (the gateway speaks WebSocket) are skipped.
"""

from __future__ import annotations

import importlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = ROOT / "deploy" / "services.toml"


def documents() -> dict[str, dict[str, Any]]:
    """``{service: OpenAPI document}`` for every registered service that has HTTP paths."""
    registry = tomllib.loads(REGISTRY.read_text())
    out: dict[str, dict[str, Any]] = {}
    for name, entry in sorted(registry.items()):
        module_name, _, factory = str(entry["app"]).partition(":")
        app = getattr(importlib.import_module(module_name), factory)()
        document: dict[str, Any] = app.openapi_schema.to_schema()
        if document.get("paths"):
            out[name] = document
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    outdir = Path(argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        text = json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        (outdir / f"{name}.json").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
