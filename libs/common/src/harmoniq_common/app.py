"""One application factory for every service: same health, metrics, errors, auth, shutdown.

``create_service_app`` wires what all services share; a service passes its routes, its own
settings and an optional ``extend`` hook (an async context manager run inside the lifespan, for
consumers, relays and caches of its own). Graceful shutdown: uvicorn stops accepting on SIGTERM
and waits for in-flight requests; then the lifespan exit marks the instance not-ready, stops the
outbox relay after a final drain, drains NATS (in-flight messages are delivered and acked) and
closes the pools.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec
import structlog
from litestar import Litestar, Request, Response, get
from litestar.config.app import AppConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.types import ControllerRouterHandler
from redis.asyncio import BlockingConnectionPool, Redis

from . import bus
from .auth import AuthMiddleware, BotTokens, RevocationMarks, TokenVerifier, exclude_patterns
from .auth import load_public_keys_file as _load_keys
from .db import create_pool
from .error_tracking import setup_error_tracking
from .errors import exception_handlers
from .ids import Snowflake, WorkerLease
from .logging import CorrelationIdMiddleware, configure_logging
from .openapi import SECURITY_SCHEMES, ClosedStructSchema, document_errors
from .outbox import OutboxRelay
from .params import TYPE_DECODERS, IdSchemaPlugin
from .platform import Platform
from .ratelimit import RateLimiter, add_rate_limit_headers
from .service_metrics import sample_forever
from .settings import CommonSettings
from .telemetry import (
    MetricsController,
    http_tracing_middleware,
    prometheus_config,
    setup_tracing,
)
from .validation import check_request

__all__ = ["Extension", "create_service_app"]

log = structlog.get_logger(__name__)

Extension = Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]


class HealthStatus(msgspec.Struct):
    status: str
    checks: dict[str, str] = {}


@get("/health/live", include_in_schema=False, exclude_from_auth=True, sync_to_thread=False)
def live() -> HealthStatus:
    """The process is up and its event loop answers."""
    return HealthStatus("ok")


@get("/health/ready", include_in_schema=False, exclude_from_auth=True)
async def ready(request: Request[Any, Any, Any]) -> Response[HealthStatus]:
    """Whether this instance can serve writes now: Postgres, Redis and NATS answer, its
    snowflake lease is confirmed, Redis holds the revocation state, and it is not draining."""
    platform: Platform | None = getattr(request.app.state, "platform", None)
    checks: dict[str, str] = {}
    if platform is None or platform.draining:
        return Response(HealthStatus("draining"), status_code=503)
    try:
        await platform.pool.fetchval("SELECT 1", timeout=2)
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"error: {type(exc).__name__}"
    try:
        complete = await platform.marks.complete()
        checks["redis"] = "ok"
        checks["revocation_state"] = "ok" if complete else "error: not restored yet"
    except Exception as exc:
        checks["redis"] = f"error: {type(exc).__name__}"
    checks["nats"] = "ok" if platform.nats.is_connected else "error: disconnected"
    checks["ids"] = "ok" if platform.ids.valid else "error: worker id lease not confirmed"
    healthy = all(v == "ok" for v in checks.values())
    return Response(
        HealthStatus("ok" if healthy else "degraded", checks), status_code=200 if healthy else 503
    )


def _platform_lifespan(
    settings: CommonSettings, extend: Extension | None
) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        subjects = bus.Subjects(settings.namespace)
        async with contextlib.AsyncExitStack() as stack:
            redis = Redis.from_pool(
                BlockingConnectionPool.from_url(
                    settings.redis_url,
                    max_connections=settings.redis_pool_max,
                    timeout=settings.redis_pool_timeout_seconds,
                )
            )
            stack.push_async_callback(redis.aclose)
            pool = await create_pool(
                settings.database_url,
                schema=settings.database_schema,
                application_name=f"harmoniq-{settings.service}-{settings.instance_id}",
                min_size=settings.database_pool_min,
                max_size=settings.database_pool_max,
            )
            stack.push_async_callback(pool.close)
            nats_reconnected: list[Callable[[], Awaitable[None]]] = []
            nc = await bus.connect_nats(
                settings.nats_url,
                name=f"{settings.service}-{settings.instance_id}",
                on_reconnect=nats_reconnected,
            )
            stack.push_async_callback(_close_nats, nc)
            js = nc.jetstream()
            await bus.ensure_streams(js, subjects)
            lease = WorkerLease(redis, settings.namespace, owner=settings.instance_id)
            generator = await lease.acquire()
            stack.push_async_callback(lease.release)
            marks = RevocationMarks(redis, settings.namespace)
            verifier = TokenVerifier(
                _load_keys(settings.jwt_public_key_file),
                marks,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                bots=BotTokens(redis, settings.namespace),
            )
            relay = OutboxRelay(pool, js, schema=settings.database_schema, nats=nc)
            platform = Platform(
                settings=settings,
                pool=pool,
                redis=redis,
                nats=nc,
                js=js,
                subjects=subjects,
                ids=generator,
                verifier=verifier,
                marks=marks,
                limiter=RateLimiter(redis, settings.namespace),
                outbox=relay,
                nats_reconnected=nats_reconnected,
            )
            app.state.platform = platform
            await relay.start()
            stack.push_async_callback(relay.stop)
            sampler = asyncio.create_task(
                sample_forever(platform, settings.metrics_sample_seconds), name="metrics-sampler"
            )
            stack.push_async_callback(_cancel, sampler)
            if extend is not None:
                await stack.enter_async_context(extend(app, platform))
            log.info("service.started", port=settings.port)
            try:
                yield
            finally:
                platform.draining = True
                log.info("service.stopping")

    return lifespan


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_nats(nc: Any) -> None:
    with contextlib.suppress(Exception):
        await nc.drain()


def _provide_platform(state: State) -> Platform:
    platform: Platform = state.platform
    return platform


def _cors_config(origins: Sequence[str]) -> CORSConfig | None:
    """Same-origin only (no CORS headers at all) unless origins are allowed by name. Tokens
    travel in the Authorization header, never in cookies: no credentials mode."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-Audit-Log-Reason", "X-Request-Id"],
        expose_headers=[
            "Retry-After",
            "X-RateLimit-Limit",
            "X-RateLimit-Remaining",
            "X-RateLimit-Reset",
            "X-Request-Id",
        ],
        allow_credentials=False,
        max_age=600,
    )


def create_service_app(
    settings: CommonSettings,
    *,
    route_handlers: Sequence[ControllerRouterHandler],
    title: str,
    extend: Extension | None = None,
    dependencies: dict[str, Provide] | None = None,
    auth_exclude: Sequence[str] = (),
    version: str = "0.1.0",
    app_class: type[Litestar] = Litestar,
) -> Litestar:
    configure_logging(settings.service, settings.log_level, json=settings.log_json)
    setup_error_tracking(settings)
    setup_tracing(
        settings.service,
        settings.trace_exporter,
        endpoint=settings.trace_otlp_endpoint,
        sample_ratio=settings.trace_sample_ratio,
    )
    prometheus = prometheus_config(settings.service)
    config = AppConfig(
        route_handlers=[live, ready, MetricsController, *route_handlers],
        lifespan=[_platform_lifespan(settings, extend)],
        dependencies={
            "platform": Provide(_provide_platform, sync_to_thread=False),
            **(dependencies or {}),
        },
        exception_handlers=exception_handlers(),
        middleware=[
            CorrelationIdMiddleware,
            prometheus.middleware,
            http_tracing_middleware(settings.trace_exporter),
            DefineMiddleware(AuthMiddleware, exclude=exclude_patterns(auth_exclude)),
        ],
        openapi_config=OpenAPIConfig(
            title=title,
            version=version,
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
            components=SECURITY_SCHEMES,
        ),
        plugins=[IdSchemaPlugin(), ClosedStructSchema()],
        type_encoders={Snowflake: str},
        type_decoders=TYPE_DECODERS,
        # The input policy (validation.py) runs before every handler: refusals cost no work.
        before_request=check_request,
        before_send=[add_rate_limit_headers],
        cors_config=_cors_config(settings.cors_allowed_origins),
        request_max_body_size=settings.request_max_body_size,
        debug=False,
    )
    app = app_class.from_config(config)
    document_errors(app, exclude_patterns(auth_exclude))
    return app
