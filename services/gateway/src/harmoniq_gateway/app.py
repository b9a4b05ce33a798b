"""The gateway application: ``uvicorn --factory harmoniq_gateway.app:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from types import FrameType

from litestar import Litestar, WebSocket
from litestar.enums import ScopeType
from litestar.types import LifeSpanReceive, LifeSpanScope, LifeSpanSend, Receive, Scope, Send
from redis.asyncio import BlockingConnectionPool, Redis

from harmoniq_common.app import create_service_app
from harmoniq_common.logging import bind_correlation_id
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .connection import serve
from .gateway import Gateway
from .settings import GatewaySettings
from .sinks import RAW_SEND, set_flush_window

__all__ = ["create_app"]


GATEWAY_PATH = "/gateway"


class GatewayApp(Litestar):
    """The gateway socket as a plain ASGI endpoint in front of Litestar.

    A socket lives for hours; behind Litestar every layer of its middleware chain (errors,
    correlation id, metrics, tracing, auth) kept a coroutine frame and wrappers alive for all
    of it, in each connection's memory, and every frame received went through them. The
    socket needs none of them (its authentication is the IDENTIFY frame, and ``serve`` turns
    every failure into a close code), so it is served here with the server's own ``send``,
    which the session's frames bypass altogether (sinks.py). Everything else (health,
    readiness, metrics) is Litestar's.
    """

    async def __call__(
        self,
        scope: Scope | LifeSpanScope,
        receive: Receive | LifeSpanReceive,
        send: Send | LifeSpanSend,
    ) -> None:
        if scope["type"] == ScopeType.WEBSOCKET and scope["path"] == GATEWAY_PATH:  # type: ignore[typeddict-item]
            scope[RAW_SEND] = send  # type: ignore[literal-required]
            bind_correlation_id(None)  # one per connection, as the middleware gave
            await serve(WebSocket(scope, receive, send), self.state.gateway)  # type: ignore[arg-type]
            return
        await super().__call__(scope, receive, send)


def _domain(
    settings: GatewaySettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        gateway = Gateway(platform, settings)
        liveness = Redis.from_pool(
            BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.liveness_redis_pool_max,
                timeout=settings.redis_pool_timeout_seconds,
            )
        )
        gateway.liveness = liveness
        app.state.gateway = gateway
        await gateway.hub.start()
        takeovers = await gateway.watch_takeovers()
        direct_typing = await gateway.typists.watch_direct()
        gateway.presence.start(settings.presence_sweep_interval_seconds)
        gateway.voice.start()
        gateway.renewals.start()
        _drain_before_exit(gateway)
        _tune_gc(settings.gc_gen0_threshold)
        set_flush_window(settings.flush_window_ms / 1000, settings.flush_window_sockets)
        try:
            yield
        finally:
            await gateway.drain()  # no-op when SIGTERM already drained
            await takeovers.unsubscribe()
            await direct_typing.unsubscribe()
            await gateway.renewals.stop()
            await gateway.voice.stop()
            await gateway.presence.stop()
            await gateway.hub.stop()
            await liveness.aclose()

    return extend


def _tune_gc(gen0_threshold: int) -> None:
    """Everything loaded so far (modules, the app) lives as long as the process: keep it out
    of every collection, and collect the young generation less often. 0 leaves both alone
    (in-process test servers share the interpreter with the tests)."""
    if gen0_threshold > 0:
        gc.freeze()
        _, gen1, gen2 = gc.get_threshold()
        gc.set_threshold(gen0_threshold, gen1, gen2)


def _drain_before_exit(gateway: Gateway) -> None:
    """On SIGTERM, send RECONNECT before uvicorn closes the sockets (with a bare 1012).

    uvicorn closes connections before the application's shutdown runs, so the handler it
    installed is wrapped: drain first, then let uvicorn shut down as usual.
    """
    loop = asyncio.get_running_loop()
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except ValueError:  # not the main thread (in-process test clients)
        return

    async def drain_then_exit(signum: int, frame: FrameType | None) -> None:
        await gateway.drain()
        if callable(previous):
            previous(signum, frame)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(lambda: loop.create_task(drain_then_exit(signum, frame)))

    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, on_sigterm)


def create_app(settings: GatewaySettings | None = None) -> Litestar:
    settings = settings or load_settings(GatewaySettings)
    return create_service_app(
        settings,
        route_handlers=[],  # the socket itself: GatewayApp
        title="Harmoniq gateway",
        extend=_domain(settings),
        auth_exclude=["^/gateway"],
        app_class=GatewayApp,
    )
