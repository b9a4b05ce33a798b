"""Services in-process for tests: on the test's servers and namespace, each with its own
database. Nothing here imports a service: a service's test support passes its own
``create_app``, settings type and schema (see the ``service_app`` fixture in :mod:`.plugin`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from litestar import Litestar
from litestar.testing import AsyncTestClient

from ..migrate import ServiceSchema
from .infra import Infra
from .keys import KeyFiles

__all__ = ["ServiceApp", "service_settings"]

S = TypeVar("S")


def service_settings(infra: Infra, keys: KeyFiles, namespace: str) -> dict[str, Any]:
    return {
        "redis_url": infra.redis_url,
        "nats_url": infra.nats_url,
        "namespace": namespace,
        "jwt_public_key_file": str(keys.public_key_file),
        "log_json": False,
        "log_level": "WARNING",
    }


class ServiceApp(Protocol):
    """``await service_app(create_app, SettingsType, schema, **overrides)``: a client of that
    service running in this test's event loop (its lifespan started), stopped after the test."""

    def __call__(
        self,
        create_app: Callable[[S], Litestar],
        settings_type: Callable[..., S],
        schema: ServiceSchema,
        **overrides: Any,
    ) -> Awaitable[AsyncTestClient[Any]]: ...
