"""The gateway application: ``uvicorn --factory harmoniq_gateway.app:create_app``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar, WebSocket, websocket

from harmoniq_common.app import create_service_app
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .connection import serve
from .gateway import Gateway
from .protocol import Close, Op, ServerFrame
from .settings import GatewaySettings

__all__ = ["create_app"]


@websocket("/gateway")
async def gateway_socket(socket: WebSocket[Any, Any, Any]) -> None:
    """The gateway protocol (docs/api.md); authentication is the IDENTIFY frame."""
    await serve(socket, socket.app.state.gateway)


def _domain(
    settings: GatewaySettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        gateway = Gateway(platform, settings)
        app.state.gateway = gateway
        await gateway.hub.start()
        takeovers = await gateway.watch_takeovers()
        try:
            yield
        finally:
            # Going away: clients move to another instance and resume there, losing nothing.
            for session in list(gateway.sessions.values()):
                session.send(ServerFrame(op=Op.RECONNECT))
                session.close(Close.UNKNOWN_ERROR, "reconnect")
            await takeovers.unsubscribe()
            await gateway.hub.stop()

    return extend


def create_app(settings: GatewaySettings | None = None) -> Litestar:
    settings = settings or load_settings(GatewaySettings)
    return create_service_app(
        settings,
        route_handlers=[gateway_socket],
        title="Harmoniq gateway",
        extend=_domain(settings),
        auth_exclude=["^/gateway"],
    )
