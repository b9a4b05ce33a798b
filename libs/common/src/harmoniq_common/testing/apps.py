"""Settings every in-process service under test shares: the test's servers and namespace."""

from __future__ import annotations

from typing import Any

from .infra import Infra
from .keys import KeyFiles

__all__ = ["service_settings"]


def service_settings(infra: Infra, keys: KeyFiles, namespace: str) -> dict[str, Any]:
    return {
        "redis_url": infra.redis_url,
        "nats_url": infra.nats_url,
        "namespace": namespace,
        "jwt_public_key_file": str(keys.public_key_file),
        "log_json": False,
        "log_level": "WARNING",
    }
