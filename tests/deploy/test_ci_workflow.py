"""The GitHub Actions workflow, checked offline: valid against the workflow schema that
check-jsonschema vendors, running what the README says CI runs, on every push and pull request,
and building an image for every registered service (a new service fails this until it is in
the matrix)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def test_valid_against_the_github_workflow_schema() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         str(WORKFLOW)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_and_the_suite_run_on_every_push_and_pull_request() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as a boolean
    assert "pull_request" in triggers and "push" in triggers
    steps = {
        job: [step.get("run", "") for step in spec["steps"]]
        for job, spec in workflow["jobs"].items()
    }
    assert "make lint" in steps["lint"]
    assert "make test" in steps["test"]  # what .ci/run and the README run
    assert "exec make test" in (ROOT / ".ci" / "run").read_text()


def test_an_image_is_built_for_every_service_and_the_migrator() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    matrix = workflow["jobs"]["images"]["strategy"]["matrix"]["target"]
    registry = tomllib.loads((ROOT / "deploy" / "services.toml").read_text())
    assert {target["name"] for target in matrix} == {*registry, "migrate"}
    for target in matrix:
        if target["name"] != "migrate":
            assert target["args"] == f"--build-arg SERVICE={target['name']}"
