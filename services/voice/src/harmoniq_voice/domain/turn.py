"""Time-limited TURN credentials from the shared secret (coturn's ``use-auth-secret``).

The "TURN REST API" scheme: the username is ``<expiry unix time>:<user id>`` and the password
``base64(HMAC-SHA1(secret, username))``. coturn, holding the same secret, recomputes the
password and refuses a username whose expiry has passed: nothing is stored anywhere, and a
leaked credential dies on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import msgspec

__all__ = ["IceServer", "IceServers", "TurnCredential", "mint", "password_for"]


class TurnCredential(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    credential: str
    expires_at: int  # unix seconds


class IceServer(msgspec.Struct, frozen=True, kw_only=True):
    """As ``RTCIceServer`` takes it (browsers and aiortc alike)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServers(msgspec.Struct, frozen=True, kw_only=True):
    ice_servers: list[IceServer]
    ttl_seconds: int
    expires_at: int


def password_for(secret: str, username: str) -> str:
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def mint(secret: str, user_id: int, ttl_seconds: int, now: float | None = None) -> TurnCredential:
    expires_at = int(now if now is not None else time.time()) + ttl_seconds
    username = f"{expires_at}:{user_id}"
    return TurnCredential(
        username=username, credential=password_for(secret, username), expires_at=expires_at
    )
