"""docker-compose.yml and its Dockerfile, checked as far as a machine without a Docker engine (and
without the compose plugin) can: the Compose Specification's JSON schema (vendored by
check-jsonschema, so offline), interpolation (refused without a .env that sets the secrets), and
the fleet's own rules (every service registered, health-checked, scalable, started in the right
order, no known secret anywhere)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
TLS_OVERRIDE = ROOT / "docker-compose.tls.yml"
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile.service"
REGISTRY: dict[str, dict[str, Any]] = tomllib.loads((ROOT / "deploy/services.toml").read_text())
INFRASTRUCTURE = ("nginx", "postgres", "redis", "nats", "minio", "coturn")
# Only these publish ports on the host: nginx (HTTP) and coturn (TURN must be reachable).
PUBLISHERS = {"nginx", "coturn"}
# What compose must refuse to start without: every password, key and shared secret.
SECRETS = {
    "POSTGRES_PASSWORD",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "TURN_SHARED_SECRET",
    *(f"HARMONIQ_{entry['schema'].upper()}_DB_PASSWORD" for entry in REGISTRY.values()),
}
# A .env as an operator writes it (`openssl rand -hex 24` for each secret).
DOTENV = {name: f"{name.lower().replace('_', '')[:12]}-0123456789abcdef" for name in SECRETS}


def _interpolate(value: str, env: dict[str, str], used: dict[str, str | None]) -> str:
    """Compose's variable interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}``.
    Records each variable with its default (None when it has none)."""
    pattern = re.compile(
        r"\$(?:(?P<escaped>\$)|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
        r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
        r"|(?P<invalid>))"
    )

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["invalid"] is not None:
            raise ValueError(f"invalid interpolation in {value!r}")
        name = match["bare"] or match["name"]
        op, arg = match["op"], match["arg"] or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if op in (":-", "-"):
            used.setdefault(name, arg)
            return env[name] if present else arg
        if op in (":+", "+"):
            used.setdefault(name, "")
            return arg if present else ""
        used.setdefault(name, None)
        if op in (":?", "?") and not present:
            raise KeyError(f"{name} is required: {arg}")
        return env.get(name, "")

    return pattern.sub(replace, value)


def _walk(node: Any, env: dict[str, str], used: dict[str, str | None]) -> Any:
    if isinstance(node, dict):
        return {key: _walk(value, env, used) for key, value in node.items()}
    if isinstance(node, list):
        return [_walk(item, env, used) for item in node]
    if isinstance(node, str):
        return _interpolate(node, env, used)
    return node


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return loaded


@pytest.fixture(scope="module")
def variables(raw: dict[str, Any]) -> dict[str, str | None]:
    used: dict[str, str | None] = {}
    _walk(raw, DOTENV, used)
    return used


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The file as `docker compose config` would see it with a .env that sets the secrets."""
    resolved: dict[str, Any] = _walk(raw, DOTENV, {})
    return resolved


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def _service_packages() -> set[str]:
    """services/<name> directories that are deployable services (an app factory exists)."""
    return {
        path.name
        for path in (ROOT / "services").iterdir()
        if (path / "pyproject.toml").exists()
        and (path / "src" / f"harmoniq_{path.name}" / "app.py").exists()
    }


# --- the specification ---------------------------------------------------------------------------
def test_valid_against_the_compose_specification_with_check_jsonschema() -> None:
    """The file as written (anchors, merge keys, ${...}), with the schema check-jsonschema vendors."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_valid_after_interpolation(compose: dict[str, Any]) -> None:
    """The same schema after the defaults are filled in, as the engine would receive it."""
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(compose, schema)


def _env_example() -> dict[str, str]:
    example = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            example[key.strip()] = value.strip()
    return example


def test_secrets_and_only_secrets_have_no_default(
    raw: dict[str, Any], variables: dict[str, str | None]
) -> None:
    """Every secret is `${VAR:?message}` wherever it is used (an empty value counts as unset);
    everything else has a default, so a .env needs to set nothing but the secrets."""
    without_default = {name for name, default in variables.items() if default is None}
    assert without_default == SECRETS
    text = COMPOSE_FILE.read_text()
    for name in SECRETS:
        uses = re.findall(rf"\$\{{{name}(:?[-?+]?)([^}}]*)\}}", text)
        assert uses, name
        for op, message in uses:
            assert op == ":?", f"{name} must be ${{{name}:?...}} everywhere, not {op!r}"
            assert ".env" in message, f"{name}: the message must say where to set it"


def test_refuses_to_start_without_a_dotenv(raw: dict[str, Any]) -> None:
    """`docker compose up` with no .env stops at the first secret, naming it."""
    with pytest.raises(KeyError, match=r"is required: set \w+ in \.env"):
        _walk(raw, {}, {})
    for name in SECRETS:
        with pytest.raises(KeyError, match=rf"{name} is required"):
            _walk(raw, {**DOTENV, name: ""}, {})


def test_defaults_agree_with_env_example(variables: dict[str, str | None]) -> None:
    """.env.example documents every variable compose reads, with the same default; secrets are
    listed empty, so a .env copied from it refuses to start until they are set."""
    example = _env_example()
    for name, default in variables.items():
        assert name in example, f"{name} (used in docker-compose.yml) is not in .env.example"
        expected = "" if name in SECRETS else default
        assert example[name] == expected, (
            f"{name}: compose default {default!r}, .env.example {example[name]!r}"
        )


def test_the_services_refuse_development_secrets(
    raw: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past compose, each service and the migrator run with HARMONIQ_ENV=production: a .env that
    still holds the old development passwords starts nothing."""
    import importlib

    from harmoniq_common.settings import CommonSettings, SettingsError, load_settings

    keys = {}
    for secret in ("jwt_public_key", "jwt_private_key"):
        keys[f"/run/secrets/{secret}"] = str(tmp_path / secret)
        (tmp_path / secret).write_text("key")
    weak = {
        **DOTENV,
        **{
            f"HARMONIQ_{e['schema'].upper()}_DB_PASSWORD": "harmoniq-dev" for e in REGISTRY.values()
        },
    }
    for dotenv, refused in ((DOTENV, False), (weak, True)):
        services = _services(_walk(raw, dotenv, {}))
        assert services["migrate"]["environment"]["HARMONIQ_ENV"] == "production"
        for name in REGISTRY:
            env = {k: keys.get(str(v), str(v)) for k, v in services[name]["environment"].items()}
            assert env["HARMONIQ_ENV"] == "production"
            module = importlib.import_module(f"harmoniq_{name}.settings")
            (cls,) = [
                v
                for v in vars(module).values()
                if isinstance(v, type) and issubclass(v, CommonSettings) and v is not CommonSettings
            ]
            if refused:
                with pytest.raises(SettingsError, match="HARMONIQ_DATABASE_URL is a development"):
                    load_settings(cls, env)
            else:
                assert load_settings(cls, env).env == "production"


def test_turn_is_never_an_open_relay(compose: dict[str, Any], tmp_path: Path) -> None:
    """coturn answers only to HMAC credentials from the secret .env sets; the secret is in its
    private config copy, never on a command line (visible to `ps` on the host)."""
    conf = ROOT / "deploy" / "coturn" / "turnserver.conf"
    directives = {
        line.split("=", 1)[0].strip()
        for line in conf.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert "use-auth-secret" in directives
    assert not directives & {"no-auth", "user", "static-auth-secret", "lt-cred-mech"}
    assert "denied-peer-ip" in directives, "never relay into private networks"
    coturn = _services(compose)["coturn"]
    assert coturn["environment"]["TURN_SHARED_SECRET"] == DOTENV["TURN_SHARED_SECRET"]
    (script,) = coturn["command"]
    assert "TURN_SHARED_SECRET" not in script.split("exec", 1)[1]
    # Run the container's script with sh against this machine's files.
    secret = "a'b\"c$d`e\\f 0123456789"
    private = tmp_path / "turnserver.conf"
    local = script.replace("/tmp/turnserver.conf", str(private)).replace(
        "/etc/coturn/turnserver.conf", str(conf)
    )
    local = local.replace("exec turnserver -c", "exec echo argv:")
    done = subprocess.run(
        ["sh", "-c", local],
        env={"TURN_SHARED_SECRET": secret, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == f"argv: {private}"
    written = private.read_text()
    assert written.startswith(conf.read_text())
    assert written.splitlines()[-1] == f"static-auth-secret={secret}"
    assert private.stat().st_mode & 0o077 == 0


def test_tls_override_adds_https_to_nginx_only() -> None:
    """docker-compose.tls.yml (docs/deploy.md): valid, publishes 8443 from nginx, mounts the
    HTTPS server and the certificates from the git-ignored secrets/."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(TLS_OVERRIDE),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    used: dict[str, str | None] = {}
    override = _walk(yaml.safe_load(TLS_OVERRIDE.read_text()), {}, used)
    assert set(override["services"]) == {"nginx", "coturn"}
    coturn = override["services"]["coturn"]
    assert coturn["ports"] == ["5349:5349/tcp"]
    assert coturn["volumes"] == ["./secrets/tls:/etc/coturn/tls:ro"]
    nginx = override["services"]["nginx"]
    assert nginx["ports"] == ["8443:8443"]
    assert _env_example()["HARMONIQ_TLS_PORT"] == used["HARMONIQ_TLS_PORT"] == "8443"
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in nginx["volumes"])
    assert mounts["./deploy/nginx/tls-server.compose.conf"].startswith("/etc/nginx/harmoniq-tls/")
    assert mounts["./secrets/tls"] == "/etc/nginx/tls"
    assert (ROOT / "deploy/nginx/tls-server.compose.conf").exists()
    assert (
        "include /etc/nginx/harmoniq-tls/*.conf;"
        in (ROOT / "deploy/nginx/nginx.compose.conf").read_text()
    )


# --- the fleet's rules ---------------------------------------------------------------------------
def test_registry_is_consistent() -> None:
    ports = [entry["dev_port"] for entry in REGISTRY.values()]
    schemas = [entry["schema"] for entry in REGISTRY.values()]
    assert len(set(ports)) == len(ports), "dev ports must be unique"
    assert len(set(schemas)) == len(schemas), "schemas must be unique"
    for name, entry in REGISTRY.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        assert re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", entry["schema"]), entry["schema"]
        module, _, factory = entry["app"].partition(":")
        assert module == f"harmoniq_{name}.app" and factory, entry["app"]
        assert (ROOT / "services" / name / "src" / f"harmoniq_{name}" / "app.py").exists(), name
        assert (ROOT / entry["migrations"]).is_dir(), entry["migrations"]
        assert entry["routes"] and all(r.startswith("/") for r in entry["routes"]), name


def test_every_service_is_registered_and_in_compose_with_a_health_check(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    packages = _service_packages()
    unregistered = packages - set(REGISTRY)
    assert not unregistered, (
        f"services/{sorted(unregistered)} have an app but no entry in deploy/services.toml"
    )
    for name in packages | set(REGISTRY):
        assert name in services, f"{name} is missing from docker-compose.yml"
        health = services[name].get("healthcheck") or {}
        assert health.get("test") and not health.get("disable"), f"{name} needs a health check"
        assert "/health/" in json.dumps(health["test"]), name


def test_app_services_scale_and_start_in_order(compose: dict[str, Any]) -> None:
    """`--scale` needs no fixed names and no host ports; a service starts after its schema."""
    services = _services(compose)
    for name, entry in REGISTRY.items():
        service = services[name]
        assert "container_name" not in service, name
        assert "ports" not in service, f"{name} must not publish ports (nginx is the only door)"
        assert service["build"]["args"]["SERVICE"] == name
        assert service["build"]["target"] == "runtime"
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        for infra in ("postgres", "redis", "nats"):
            assert depends[infra]["condition"] == "service_healthy", (name, infra)
        env = service["environment"]
        role = f"harmoniq_{entry['schema']}"
        assert env["HARMONIQ_DATABASE_URL"].startswith(f"postgresql://{role}:"), name
        assert "@postgres:5432/" in env["HARMONIQ_DATABASE_URL"]
        assert env["HARMONIQ_REDIS_URL"].startswith("redis://redis:")
        assert env["HARMONIQ_NATS_URL"].startswith("nats://nats:")
        assert env["HARMONIQ_JWT_PUBLIC_KEY_FILE"] == "/run/secrets/jwt_public_key"
        assert "jwt_public_key" in service["secrets"]
        for key in (
            "HARMONIQ_NAMESPACE",
            "HARMONIQ_LOG_LEVEL",
            "HARMONIQ_TRUSTED_PROXIES",
            "HARMONIQ_PORT",
        ):
            assert env.get(key), (name, key)
        # Only the issuer holds the signing key.
        assert ("jwt_private_key" in service["secrets"]) == (name == "auth"), name
    nginx_deps = services["nginx"]["depends_on"]
    for name in REGISTRY:
        assert nginx_deps[name]["condition"] == "service_healthy", f"nginx must wait for {name}"


def test_migrate_knows_every_schema(compose: dict[str, Any]) -> None:
    migrate = _services(compose)["migrate"]
    assert _one_shot(migrate)
    assert migrate["build"]["target"] == "migrate"
    env = migrate["environment"]
    assert env["HARMONIQ_POSTGRES_URL"].startswith("postgresql://postgres:")
    for name, entry in REGISTRY.items():
        key = f"HARMONIQ_{entry['schema'].upper()}_DB_PASSWORD"
        assert key in env, f"migrate needs {key} for {name}'s role"
        # the service connects with the password its role was given
        password = env[key]
        assert f":{password}@" in _services(compose)[name]["environment"]["HARMONIQ_DATABASE_URL"]


def test_infrastructure_is_there_and_health_checked(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name in INFRASTRUCTURE:
        assert name in services, name
    for name, service in services.items():
        if _one_shot(service):
            continue
        health = service.get("healthcheck") or {}
        assert health.get("test") and not health.get("disable"), f"{name} needs a health check"
    nats = services["nats"]
    assert "-js" in nats["command"], "NATS needs JetStream"
    store = nats["command"][nats["command"].index("-sd") + 1]
    assert any(volume.endswith(f":{store}") for volume in nats["volumes"]), "JetStream store volume"
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["postgres"]["image"].startswith("postgres:16")


def test_only_the_edge_publishes_ports(compose: dict[str, Any]) -> None:
    services = _services(compose)
    publishing = {name for name, service in services.items() if service.get("ports")}
    assert publishing == PUBLISHERS
    assert services["nginx"]["ports"] == ["8080:8080"]
    assert not any("container_name" in service for service in services.values())


def test_dependencies_exist_and_their_conditions_can_be_met(compose: dict[str, Any]) -> None:
    services = _services(compose)
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            target = services[dependency]
            condition = spec["condition"]
            if condition == "service_completed_successfully":
                assert _one_shot(target), f"{name} waits for {dependency} to exit, but it restarts"
            elif condition == "service_healthy":
                health = target.get("healthcheck") or {}
                assert health.get("test") and not health.get("disable"), (name, dependency)


def test_mounted_files_exist(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    for spec in compose["volumes"], compose["secrets"]:
        assert spec
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/"), "secrets live in the git-ignored secrets/"
    assert "secrets/" in (ROOT / ".gitignore").read_text().split()


# --- the image recipe ----------------------------------------------------------------------------
def test_dockerfile_has_the_targets_compose_builds(compose: dict[str, Any]) -> None:
    text = DOCKERFILE.read_text()
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, flags=re.MULTILINE | re.IGNORECASE))
    for name, service in _services(compose).items():
        build = service.get("build")
        if build and name == "nginx":  # the edge: nginx with the built web client
            web = (ROOT / "deploy/docker/Dockerfile.web").read_text()
            assert build["dockerfile"] == "deploy/docker/Dockerfile.web"
            assert build["target"] == "runtime" and " AS runtime" in web
            assert "npm ci" in web and "FROM nginx:${NGINX_VERSION}-alpine" in web
            assert "/usr/share/harmoniq/web" in web
            continue
        if build:
            assert build["dockerfile"] == "deploy/docker/Dockerfile.service", name
            assert build["context"] == "."
            assert build["target"] in stages, f"{name}: no stage {build['target']}"
    assert "uv sync --frozen --no-dev" in text, "images install exactly what uv.lock pins"
    assert '--package "harmoniq-${SERVICE}"' in text
    assert re.search(r"^FROM python:\$\{PYTHON_VERSION\}-slim AS runtime$", text, re.MULTILINE)
    runtime = text.split(" AS runtime", 1)[1]
    assert re.search(r"^USER 10001", runtime, re.MULTILINE), "the runtime runs as a non-root user"
    assert "HEALTHCHECK" in runtime and "/health/live" in runtime
    assert "uvicorn --factory" in runtime


def test_dockerignore_keeps_secrets_and_bulk_out() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".git", ".venv", ".env", "secrets", "**/tests"):
        assert entry in ignored, entry


def test_env_example_lists_every_setting() -> None:
    """Every HARMONIQ_* field of every service's settings appears in .env.example."""
    import importlib

    import msgspec

    from harmoniq_common.settings import CommonSettings

    example = (ROOT / ".env.example").read_text()
    classes: list[type[CommonSettings]] = [CommonSettings]
    for name in tomllib.loads((ROOT / "deploy/services.toml").read_text()):
        module = importlib.import_module(f"harmoniq_{name}.settings")
        classes += [
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, CommonSettings)
        ]
    for cls in classes:
        for field in msgspec.structs.fields(cls):
            if field.name == "service":  # fixed by the code, not read from the environment
                continue
            assert f"HARMONIQ_{field.name.upper()}=" in example, (cls.__name__, field.name)
