from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from harmoniq_common.settings import (
    CommonSettings,
    SettingsError,
    dsn_problem,
    load_settings,
    production_problems,
    secret_problem,
)


class DemoSettings(CommonSettings, frozen=True, kw_only=True):
    service: str = "demo"
    batch: int = 10


def test_env_vars_are_converted_and_validated() -> None:
    settings = load_settings(
        DemoSettings,
        {
            "HARMONIQ_PORT": "9001",
            "HARMONIQ_BATCH": "3",
            "HARMONIQ_LOG_JSON": "false",
            "HARMONIQ_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
            "UNRELATED": "x",
        },
    )
    assert settings.port == 9001
    assert settings.batch == 3
    assert settings.log_json is False
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert settings.database_schema == "demo"
    assert settings.instance_id


def test_bad_value_names_the_setting() -> None:
    with pytest.raises(SettingsError, match="port"):
        load_settings(DemoSettings, {"HARMONIQ_PORT": "eighty"})


# --- production refuses default or missing secrets ------------------------------------------------
class VoiceLikeSettings(CommonSettings, frozen=True, kw_only=True):
    """A service with a secret of its own, as voice will have the TURN secret."""

    production_secrets: ClassVar[frozenset[str]] = CommonSettings.production_secrets | {
        "turn_shared_secret"
    }

    service: str = "voicelike"
    turn_shared_secret: str = ""


STRONG = "4f0c1e9b7a2d8c3e5f6a7b8c9d0e1f2a"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "access-token.pub"
    path.write_text("-----BEGIN PUBLIC KEY-----\n")
    return path


def _production(key_file: Path, **env: str) -> dict[str, str]:
    return {
        "HARMONIQ_ENV": "production",
        "HARMONIQ_DATABASE_URL": f"postgresql://harmoniq_demo:{STRONG}@postgres:5432/harmoniq",
        "HARMONIQ_JWT_PUBLIC_KEY_FILE": str(key_file),
        "HARMONIQ_TURN_SHARED_SECRET": STRONG,
        **env,
    }


def test_production_starts_with_real_secrets(key_file: Path) -> None:
    settings = load_settings(VoiceLikeSettings, _production(key_file))
    assert settings.env == "production"
    assert production_problems(settings) == []


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"HARMONIQ_DATABASE_URL": "postgresql://harmoniq_demo:harmoniq-dev@postgres/harmoniq"},
            "the password in HARMONIQ_DATABASE_URL is a development default",
        ),
        (
            {"HARMONIQ_DATABASE_URL": "postgresql://harmoniq_demo@postgres/harmoniq"},
            "HARMONIQ_DATABASE_URL has no password",
        ),
        (
            {"HARMONIQ_DATABASE_URL": "postgresql://harmoniq_demo:short@postgres/harmoniq"},
            "the password in HARMONIQ_DATABASE_URL is shorter than 16 characters",
        ),
        ({"HARMONIQ_JWT_PUBLIC_KEY_FILE": ""}, "HARMONIQ_JWT_PUBLIC_KEY_FILE is not set"),
        (
            {"HARMONIQ_JWT_PUBLIC_KEY_FILE": "/run/secrets/nowhere"},
            "HARMONIQ_JWT_PUBLIC_KEY_FILE names no readable file",
        ),
        ({"HARMONIQ_TURN_SHARED_SECRET": ""}, "HARMONIQ_TURN_SHARED_SECRET is not set"),
        (
            {"HARMONIQ_TURN_SHARED_SECRET": "change-me-as-well"},
            "HARMONIQ_TURN_SHARED_SECRET is a development default",
        ),
    ],
)
def test_production_refuses_a_missing_or_default_secret_and_names_it(
    key_file: Path, env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(VoiceLikeSettings, _production(key_file, **env))
    assert named in str(refused.value)
    assert "harmoniq-dev" not in str(refused.value), "the value itself is never repeated"


def test_production_names_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(VoiceLikeSettings, {"HARMONIQ_ENV": "production"})
    message = str(refused.value)
    for variable in (
        "HARMONIQ_DATABASE_URL",
        "HARMONIQ_JWT_PUBLIC_KEY_FILE",
        "HARMONIQ_TURN_SHARED_SECRET",
    ):
        assert variable in message


def test_development_does_not_ask_for_secrets() -> None:
    settings = load_settings(VoiceLikeSettings, {})
    assert settings.env == "dev"
    assert "HARMONIQ_DATABASE_URL has no password" in production_problems(settings)


def test_a_misspelt_environment_is_refused_not_treated_as_development() -> None:
    with pytest.raises(SettingsError, match="env"):
        load_settings(DemoSettings, {"HARMONIQ_ENV": "prod"})


def test_secret_helpers_for_the_migrator() -> None:
    assert secret_problem("POSTGRES_PASSWORD", None) == "POSTGRES_PASSWORD is not set"
    assert secret_problem("X", "Change-Me") == "X is a development default"
    assert secret_problem("X", STRONG) is None
    assert dsn_problem("U", f"postgresql://postgres:{STRONG}@db/postgres") is None
    # a percent-encoded password is judged decoded
    assert dsn_problem("U", "postgresql://postgres:harmoniq%2Ddev@db/x") == (
        "the password in U is a development default"
    )


# --- CORS origins ---------------------------------------------------------------------------------
def test_cors_origins_are_a_list_of_origins() -> None:
    settings = load_settings(
        DemoSettings,
        {"HARMONIQ_CORS_ALLOWED_ORIGINS": "https://chat.example.com, http://localhost:5173"},
    )
    assert settings.cors_allowed_origins == ["https://chat.example.com", "http://localhost:5173"]
    assert load_settings(DemoSettings, {}).cors_allowed_origins == []


@pytest.mark.parametrize(
    "origin", ["*", "chat.example.com", "https://chat.example.com/app", "ftp://x.example"]
)
def test_a_cors_entry_that_is_not_an_origin_is_refused(origin: str) -> None:
    with pytest.raises(SettingsError, match="HARMONIQ_CORS_ALLOWED_ORIGINS"):
        load_settings(DemoSettings, {"HARMONIQ_CORS_ALLOWED_ORIGINS": origin})


def test_the_migrator_refuses_default_passwords_in_production() -> None:
    """The superuser's and the roles' passwords are read only by the migrator: same rule."""
    import os
    import subprocess
    import sys

    registry = Path(__file__).resolve().parents[3] / "deploy" / "services.toml"
    env = {
        **os.environ,
        "HARMONIQ_ENV": "production",
        "HARMONIQ_POSTGRES_URL": "postgresql://postgres:change-me@127.0.0.1:9/postgres",
        "HARMONIQ_AUTH_DB_PASSWORD": STRONG,
        "HARMONIQ_GUILDS_DB_PASSWORD": "harmoniq-dev",
    }
    env.pop("HARMONIQ_MESSAGES_DB_PASSWORD", None)
    done = subprocess.run(
        [sys.executable, "-m", "harmoniq_common.migrate", "--registry", str(registry)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the password in HARMONIQ_POSTGRES_URL is a development default" in done.stderr
    assert "HARMONIQ_GUILDS_DB_PASSWORD is a development default" in done.stderr
    assert "HARMONIQ_MESSAGES_DB_PASSWORD is not set" in done.stderr
    assert "HARMONIQ_AUTH_DB_PASSWORD" not in done.stderr
