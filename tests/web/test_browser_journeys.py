"""The web client in a real browser against the real fleet: the Playwright journeys in
``web/e2e`` (two browser contexts as two people), run by Debian's chromium through nginx.

The fleet starts as the fleet tests start it (``deploy/fleet.py``), with nginx serving the
built client (``web/dist``; built here first if it is missing or older than its sources). Then
``npx playwright test`` runs as a subprocess with the fleet's address in ``HARMONIQ_WEB_URL``;
this test passes only if every journey passed. node, npm and chromium are system packages
(``deploy/install-system-deps.sh``): without them this fails with what to install, it is
never skipped. coturn (a system package too) runs on loopback for the voice journey, which
connects through its relay only. Screenshots go to pytest's tmp dir (``HARMONIQ_SCREENS_DIR``); copy current ones
to ``docs/screens/`` by running with ``HARMONIQ_SCREENS_DIR=docs/screens``.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmoniq_common.testing.infra import Infra, free_port
from harmoniq_common.testing.s3 import S3Server

from fleet import ROOT, Fleet
from turn_server import TurnServer, TurnStack, turnserver_binary

WEB = ROOT / "web"
DIST = WEB / "dist"
CHROMIUM = os.environ.get("HARMONIQ_CHROMIUM", "/usr/bin/chromium")
INSTALL = "bash deploy/install-system-deps.sh (nodejs, npm, chromium from the system's packages)"

pytestmark = pytest.mark.fleet


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} is not installed; run: {INSTALL}")
    return found


def _newest_source() -> float:
    sources = [WEB / "index.html", WEB / "package-lock.json", *(WEB / "src").rglob("*")]
    return max(p.stat().st_mtime for p in sources if p.is_file())


def _ensure_built() -> None:
    """``npm ci`` when node_modules is missing, ``npm run build`` when dist is stale."""
    npm = _tool("npm")
    env = {**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    if not (WEB / "node_modules" / ".package-lock.json").exists():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, env=env, check=True)
    index = DIST / "index.html"
    if not index.exists() or index.stat().st_mtime < _newest_source():
        subprocess.run([npm, "run", "build"], cwd=WEB, env=env, check=True)


@pytest.fixture(scope="module")
def web_turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    """Debian's coturn on loopback: the voice journey connects only through its relay."""
    if turnserver_binary() is None:
        pytest.fail(f"coturn is not installed; run: {INSTALL}")
    with TurnStack(tmp_path_factory.mktemp("web-turn")) as turn:
        yield turn


@pytest.fixture(scope="module")
def web_fleet(
    harmoniq_infra: Infra,
    harmoniq_s3: S3Server,
    web_turn: TurnServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Fleet]:
    _tool("node")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"chromium is not installed at {CHROMIUM}; run: {INSTALL}")
    _ensure_built()
    running = Fleet(
        harmoniq_infra,
        tmp_path_factory.mktemp("web-fleet"),
        public_port=free_port(),
        database=f"hq_web_{secrets.token_hex(4)}",
        namespace=f"w{secrets.token_hex(5)}",
        fixed_ports=False,
        s3=harmoniq_s3,
        web_root=DIST,
        turn=web_turn,
        # Every browser request arrives from 127.0.0.1: the journeys register several people.
        extra_env={"HARMONIQ_AUTH_RATE_LIMIT": "50"},
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(360)
def test_browser_journeys(web_fleet: Fleet, tmp_path: Path) -> None:
    screens = Path(os.environ.get("HARMONIQ_SCREENS_DIR", str(tmp_path / "screens")))
    env = {
        **os.environ,
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        "HARMONIQ_WEB_URL": web_fleet.url,
        "HARMONIQ_CHROMIUM": CHROMIUM,
        "HARMONIQ_SCREENS_DIR": str(screens.resolve()),
        "CI": "1",
    }
    npx = _tool("npx")
    result = subprocess.run(
        [npx, "playwright", "test", "--reporter=list"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=330,
        check=False,
    )
    report = result.stdout + result.stderr
    print(report)
    assert result.returncode == 0, f"the browser journeys failed:\n{report[-8000:]}"
    # Every journey ran and passed (none skipped or filtered out by accident).
    journeys = sum(
        len(re.findall(r"^test\(", spec.read_text(), flags=re.MULTILINE))
        for spec in (WEB / "e2e").glob("*.spec.ts")
    )
    assert journeys >= 5
    assert re.search(rf"^\s*{journeys} passed", report, flags=re.MULTILINE), report[-4000:]
    assert " failed" not in report, report[-4000:]
    assert any(screens.glob("*.png")), "the journeys save screenshots"
