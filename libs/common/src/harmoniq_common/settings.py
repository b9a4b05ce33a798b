"""Typed settings read from ``HARMONIQ_*`` environment variables.

Every service declares one frozen msgspec Struct that extends :class:`CommonSettings`; field
``foo_bar`` is read from ``HARMONIQ_FOO_BAR``. msgspec does the string-to-type conversion and
the validation, so a bad value fails at start-up with the variable's name in the message.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import TypeVar

import msgspec

__all__ = ["ENV_PREFIX", "CommonSettings", "SettingsError", "load_settings"]

ENV_PREFIX = "HARMONIQ_"


class SettingsError(Exception):
    """A ``HARMONIQ_*`` variable is missing or malformed."""


class CommonSettings(msgspec.Struct, frozen=True, kw_only=True):
    """What every service needs to run; each service subclasses it."""

    service: str = "harmoniq"
    host: str = "127.0.0.1"
    port: int = 8000
    # Unique per process; used in logs, the snowflake worker lease and NATS client names.
    instance_id: str = ""
    env: str = "dev"
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
    # "none" or "console"; an OTLP exporter plugs in at the same place.
    trace_exporter: str = "none"
    jwt_public_key_file: str = ""
    jwt_issuer: str = "harmoniq"
    jwt_audience: str = "harmoniq"
    # Peers whose X-Real-IP header is believed (nginx); everyone else is keyed by their socket.
    trusted_proxies: list[str] = msgspec.field(default_factory=lambda: ["127.0.0.1", "::1"])
    request_max_body_size: int = 1_048_576
    shutdown_grace_seconds: float = 20.0

    def __post_init__(self) -> None:
        if not self.instance_id:
            msgspec.structs.force_setattr(
                self, "instance_id", f"{socket.gethostname()}-{os.getpid()}"
            )
        if not self.database_schema:
            msgspec.structs.force_setattr(self, "database_schema", self.service)


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
