"""The connections and helpers every service instance holds (the "platform").

Built once in the application's lifespan and stored on ``app.state.platform``; handlers get it
through Litestar DI (``platform: Platform``). Nothing in here is a module-level singleton, so
tests can run several services, or several instances of one, in one process.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network
from typing import Any

import asyncpg
from litestar.connection import ASGIConnection
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from redis.asyncio import Redis

from .auth import RevocationMarks, TokenVerifier
from .bus import Subjects
from .ids import Snowflake, SnowflakeGenerator
from .outbox import OutboxRelay
from .ratelimit import RateLimiter
from .settings import CommonSettings

__all__ = ["Platform", "client_address"]


@dataclass
class Platform:
    settings: CommonSettings
    pool: asyncpg.Pool
    redis: Redis
    nats: NatsClient
    js: JetStreamContext
    subjects: Subjects
    ids: SnowflakeGenerator
    verifier: TokenVerifier
    marks: RevocationMarks
    limiter: RateLimiter
    outbox: OutboxRelay
    # Called after NATS reconnects (see bus.connect_nats): append, never replace.
    nats_reconnected: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    draining: bool = False

    def new_id(self) -> Snowflake:
        return self.ids.next_id()


def client_address(connection: ASGIConnection[Any, Any, Any, Any], trusted: list[str]) -> str:
    """The caller's IP: nginx's ``X-Real-IP`` when the peer is a trusted proxy, else the peer.

    Only the proxy's own header is believed, never a client's ``X-Forwarded-For``.
    """
    peer = connection.client.host if connection.client else "unknown"
    forwarded = connection.headers.get("x-real-ip")
    if forwarded and _is_trusted(peer, trusted):
        return forwarded.strip()
    return peer


def _is_trusted(peer: str, trusted: list[str]) -> bool:
    if peer in trusted:  # a unix socket path or a test client's name
        return True
    try:
        address = ip_address(peer)
    except ValueError:
        return False
    networks = []
    for item in trusted:
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            continue
    return any(address in network for network in networks)
