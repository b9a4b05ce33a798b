"""Typed settings read from ``HARMONIQ_*`` environment variables.

Every service declares one frozen msgspec Struct that extends :class:`CommonSettings`; field
``foo_bar`` is read from ``HARMONIQ_FOO_BAR``. msgspec does the string-to-type conversion and
the validation, so a bad value fails at start-up with the variable's name in the message.

With ``HARMONIQ_ENV=production`` a service also refuses to start while any of its secrets is
missing or still a development default (:func:`production_problems`): a fleet that "works" with
the password every reader of this repository knows is worse than one that does not start.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Literal, TypeVar
from urllib.parse import unquote, urlsplit

import msgspec

__all__ = [
    "DEVELOPMENT_SECRETS",
    "ENV_PREFIX",
    "MIN_SECRET_LENGTH",
    "CommonSettings",
    "SettingsError",
    "dsn_problem",
    "load_settings",
    "production_problems",
    "secret_problem",
]

ENV_PREFIX = "HARMONIQ_"

# Values this repository ships as examples or defaults (.env.example, the dev runner, the
# images' documentation): refused as secrets in production.
DEVELOPMENT_SECRETS = frozenset(
    {
        "harmoniq-dev",
        "change-me",
        "change-me-too",
        "change-me-as-well",
        "changeme",
        "minioadmin",
        "postgres",
        "password",
        "secret",
    }
)
# `openssl rand -hex 24` gives 48 characters; 16 still rules out words and short phrases.
MIN_SECRET_LENGTH = 16


class SettingsError(Exception):
    """A ``HARMONIQ_*`` variable is missing or malformed."""


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service needs to run; each service subclasses it."""

    # Fields checked by production_problems() when env is "production": a ``*_url`` must carry
    # a password, a ``*_file`` must name a readable file, anything else must be a strong value.
    # A service adds its own (auth: its signing key; media: its S3 keys; voice: the TURN secret).
    production_secrets: ClassVar[frozenset[str]] = frozenset(
        {"database_url", "jwt_public_key_file"}
    )

    service: str = "harmoniq"
    host: str = "127.0.0.1"
    port: int = 8000
    # Unique per process; used in logs, the snowflake worker lease and NATS client names.
    instance_id: str = ""
    env: Literal["dev", "test", "production"] = "dev"
    # The service's own role DSN (never a superuser's): it owns only the service's schema.
    database_url: str = "postgresql://127.0.0.1:5432/harmoniq"
    database_schema: str = ""
    database_pool_min: int = 2
    database_pool_max: int = 10
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Connections to Redis per process. A command finding all of them busy waits up to
    # redis_pool_timeout_seconds for one (redis-py's default pool would fail it at once).
    redis_pool_max: int = 64
    redis_pool_timeout_seconds: float = 5.0
    nats_url: str = "nats://127.0.0.1:4222"
    # Prefix of every Redis key, NATS subject and JetStream stream: lets several fleets (or
    # parallel tests) share one Redis/NATS without seeing each other.
    namespace: str = "harmoniq"
    log_level: str = "INFO"
    log_json: bool = True
    # "none", "console" or "otlp" (spans to trace_otlp_endpoint, OTLP over HTTP/protobuf).
    trace_exporter: Literal["none", "console", "otlp"] = "none"
    trace_otlp_endpoint: str = "http://127.0.0.1:4318/v1/traces"
    # Share of new traces kept (a sampled parent's traces are always followed).
    trace_sample_ratio: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.1
    # Unexpected errors go to this Sentry/GlitchTip project when set (error_tracking).
    sentry_dsn: str = ""
    sentry_sample_rate: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 1.0
    # How often the dependency, pool, outbox and Redis gauges are sampled (service_metrics).
    metrics_sample_seconds: float = 15.0
    jwt_public_key_file: str = ""
    jwt_issuer: str = "harmoniq"
    jwt_audience: str = "harmoniq"
    # Peers whose X-Real-IP header is believed (nginx); everyone else is keyed by their socket.
    trusted_proxies: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "::1"])
    request_max_body_size: int = 1_048_576
    shutdown_grace_seconds: float = 20.0
    # Browser origins ("https://chat.example.com") other than the API's own that may call it
    # with credentials in headers (CORS). Empty: same-origin only, no CORS headers at all.
    cors_allowed_origins: list[str] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.instance_id:
            msgspec.structs.force_setattr(
                self, "instance_id", f"{socket.gethostname()}-{os.getpid()}"
            )
        if not self.database_schema:
            msgspec.structs.force_setattr(self, "database_schema", self.service)
        for origin in self.cors_allowed_origins:
            _check_origin(origin)
        if self.env == "production" and (problems := production_problems(self)):
            # msgspec reports a ValueError from here as a validation error of the struct.
            raise ValueError(
                "HARMONIQ_ENV=production refuses to start with missing or default secrets: "
                + "; ".join(problems)
            )


def _check_origin(origin: str) -> None:
    parts = urlsplit(origin)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or "*" in origin  # Litestar reads * as a wildcard; allowed origins are named in full
    ):
        raise ValueError(
            f"HARMONIQ_CORS_ALLOWED_ORIGINS: {origin!r} is not an origin like https://host[:port]"
        )


def secret_problem(variable: str, value: str | None) -> str | None:
    """Why ``value`` cannot be the production value of ``variable``; None when it can."""
    if not value:
        return f"{variable} is not set"
    if value.strip().lower() in DEVELOPMENT_SECRETS:
        return f"{variable} is a development default"
    if len(value) < MIN_SECRET_LENGTH:
        return f"{variable} is shorter than {MIN_SECRET_LENGTH} characters"
    return None


def dsn_problem(variable: str, dsn: str | None) -> str | None:
    """Why the password in the DSN ``variable`` cannot be a production one; None when it can."""
    if not dsn:
        return f"{variable} is not set"
    password = urlsplit(dsn).password
    if password is None:
        return f"{variable} has no password"
    return secret_problem(f"the password in {variable}", unquote(password))


def _file_problem(variable: str, path: str) -> str | None:
    if not path:
        return f"{variable} is not set"
    if not os.access(Path(path), os.R_OK) or not Path(path).is_file():
        return f"{variable} names no readable file ({path})"
    return None


def production_problems(settings: CommonSettings) -> list[str]:
    """Each of ``settings.production_secrets`` that is missing or a known default, by its
    variable name (the values themselves are never repeated)."""
    problems = []
    for field in sorted(settings.production_secrets):
        variable = ENV_PREFIX + field.upper()
        value = getattr(settings, field)
        if field.endswith("_url"):
            problem = dsn_problem(variable, value)
        elif field.endswith("_file"):
            problem = _file_problem(variable, value)
        else:
            problem = secret_problem(variable, value)
        if problem:
            problems.append(problem)
    return problems


# Which service a process is comes from its code, not from its environment.
_FIXED = frozenset({"service"})

SettingsT = TypeVar("SettingsT", bound=CommonSettings)


def load_settings(
    cls: type[SettingsT], env: Mapping[str, str] | None = None, **overrides: object
) -> SettingsT:
    """Build ``cls`` from ``HARMONIQ_*`` variables; ``overrides`` win over the environment."""
    source = os.environ if env is None else env
    raw: dict[str, object] = {}
    for field in msgspec.structs.fields(cls):
        if field.name in _FIXED:
            continue
        value = source.get(ENV_PREFIX + field.name.upper())
        if value is None:
            continue
        if field.type == list[str] or getattr(field.type, "__origin__", None) is list:
            raw[field.name] = [item.strip() for item in value.split(",") if item.strip()]
        else:
            raw[field.name] = value
    raw.update(overrides)
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"{ENV_PREFIX}* settings for {cls.__name__}: {exc}") from exc
