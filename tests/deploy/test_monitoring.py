"""The alerts, dashboards and monitoring compose file in deploy/monitoring, checked offline:
promtool checks the rules and runs their unit tests, every alert has a runbook, the dashboards
query Prometheus through the provisioned data source, and the compose overlay is valid.
(That every metric they query is exported by a running service: tests/fleet.)"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
OVERLAY = ROOT / "docker-compose.monitoring.yml"


def _promtool(*args: str, cwd: Path = MONITORING) -> str:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: run `make system-deps` (Debian's prometheus package)"
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _alerts() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_the_rules_and_their_unit_tests_pass() -> None:
    assert f"SUCCESS: {len(_alerts())} rules found" in _promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in _promtool("test", "rules", "alerts.test.yml")


def test_every_alert_is_unit_tested() -> None:
    tests = yaml.safe_load((MONITORING / "alerts.test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert fired == {rule["alert"] for rule in _alerts()}


def test_the_prometheus_config_is_valid_and_scrapes_every_service(tmp_path: Path) -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["rule_files"] = [str(MONITORING / "alerts.yml")]  # compose mounts it elsewhere
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    _promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    registry = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    apps = {name for name, service in registry.items() if "8000" in json.dumps(service)}
    scraped = {job["job_name"].removeprefix("harmoniq-") for job in config["scrape_configs"]}
    assert apps - {"migrate"} <= scraped


def test_every_alert_has_a_runbook_in_operations() -> None:
    headings = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in (ROOT / "docs" / "operations.md").read_text().splitlines()
        if line.startswith("#")
    }
    for rule in _alerts():
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"docs/operations.md#{rule['alert'].lower()}", rule["alert"]
        assert rule["alert"].lower() in headings, f"no runbook heading for {rule['alert']}"
        assert rule["labels"]["severity"] in {"warning", "critical"}


def test_dashboards_query_the_provisioned_prometheus() -> None:
    source = yaml.safe_load(
        (MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    dashboards = sorted((MONITORING / "grafana/dashboards").glob("*.json"))
    assert dashboards
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] and dashboard["title"], path.name
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] == source["uid"], panel["title"]
            assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])


def test_the_monitoring_overlay_is_valid_compose() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(OVERLAY)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    services = yaml.safe_load(OVERLAY.read_text())["services"]
    assert set(services) == {"prometheus", "node-exporter", "grafana"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000"]  # loopback only
    assert "GRAFANA_ADMIN_PASSWORD:?" in OVERLAY.read_text()  # no default password
