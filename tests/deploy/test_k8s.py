"""deploy/k8s, checked offline: the generated manifests are current, both overlays render with
kubectl kustomize, every object is valid against the Kubernetes schemas (kubernetes-validate,
strict: no unknown fields), and the fleet's rules hold in what renders: every service has
probes, limits, a hardened pod, an HPA, a PDB and an upstream in nginx; the public reaches only
nginx; prod runs three of everything spread over nodes."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from harmoniq_common.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
REGISTRY: dict[str, dict[str, Any]] = tomllib.loads((ROOT / "deploy/services.toml").read_text())
KUBERNETES = "1.31.0"
# Custom resources of the operators we depend on: their schemas are the operators' own.
OPERATOR_KINDS = {"Cluster"}  # postgresql.cnpg.io/v1


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing (its kustomize renders deploy/k8s): see docs/deploy.md"
    result = subprocess.run(
        [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone",
         str(K8S / "overlays" / overlay)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, _render(request.param)


def _of(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_generated_manifests_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(K8S / "generate.py"), "--check"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_every_object_is_valid_against_the_kubernetes_schemas(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, objects = rendered
    checked = 0
    for obj in objects:
        if obj["kind"] in OPERATOR_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
        checked += 1
    assert checked >= 30


def test_every_service_is_deployed_hardened_and_probed(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    overlay, objects = rendered
    deployments = _of(objects, "Deployment")
    drain = CommonSettings().shutdown_grace_seconds
    for name in REGISTRY:
        assert name in _of(objects, "Service"), name
        assert name in _of(objects, "HorizontalPodAutoscaler"), name
        assert name in _of(objects, "PodDisruptionBudget"), name
        pod = deployments[name]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert set(container["resources"]) == {"requests", "limits"}, name
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["terminationGracePeriodSeconds"] > drain, name
        assert container["image"].endswith(":dev" if overlay == "dev" else ":1.0.0"), name
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["HARMONIQ_SERVICE"] == name
        for key, value in REGISTRY[name].get("env", {}).items():
            assert env[key] == str(value), (name, key)


def test_nginx_is_the_only_way_in_and_knows_every_service(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, objects = rendered
    services = _of(objects, "Service")
    public = {name for name, s in services.items() if s["spec"].get("type") == "LoadBalancer"}
    assert public == {"nginx"}
    config = next(o for o in objects if o["kind"] == "ConfigMap" and "nginx.conf" in o["data"])
    nginx_conf = config["data"]["nginx.conf"]
    for name in REGISTRY:
        assert f"server {name}:8000;" in nginx_conf, name
    assert "resolver 127.0.0.11" not in nginx_conf  # Docker's DNS does not exist here
    routes = next(o for o in objects if o["kind"] == "ConfigMap" and "routes.conf" in o["data"])
    assert routes["data"]["routes.conf"] == (ROOT / "deploy/nginx/routes.conf").read_text()
    policies = _of(objects, "NetworkPolicy")
    assert policies["default-deny"]["spec"]["podSelector"] == {}
    assert policies["public-to-nginx"]["spec"]["podSelector"]["matchLabels"] == {
        "harmoniq.chat/role": "edge"
    }
    edge = _of(objects, "Deployment")["nginx"]["spec"]["template"]["metadata"]["labels"]
    assert edge["harmoniq.chat/role"] == "edge"


def test_prod_runs_three_of_everything_spread_over_nodes() -> None:
    objects = _render("prod")
    for name, deployment in _of(objects, "Deployment").items():
        assert deployment["spec"]["replicas"] == 3, name
        spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
        assert spread[0]["topologyKey"] == "kubernetes.io/hostname", name
        assert spread[0]["whenUnsatisfiable"] == "DoNotSchedule", name
    for name, hpa in _of(objects, "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] == 3, name
    assert _of(objects, "Cluster")["harmoniq-db"]["spec"]["instances"] == 3
    dev = _render("dev")
    assert {d["spec"]["replicas"] for d in _of(dev, "Deployment").values()} == {1}
