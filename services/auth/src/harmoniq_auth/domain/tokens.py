"""Minting access tokens (EdDSA JWTs) and opaque refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harmoniq_common.auth import ALGORITHM, key_id

__all__ = ["AccessTokenIssuer", "TokenPair", "hash_refresh_token", "jwks", "new_refresh_token"]


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> bytes:
    # 256 random bits need no slow hash: SHA-256 is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).digest()


class AccessTokenIssuer:
    def __init__(self, private_key_file: str, *, issuer: str, audience: str, ttl_seconds: int):
        key = serialization.load_pem_private_key(Path(private_key_file).read_bytes(), None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the access-token signing key must be Ed25519")
        self._key = key
        self.kid = key_id(key.public_key())
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds

    def issue(self, user_id: int, session_id: int) -> str:
        # iat carries milliseconds so a token minted right after a revocation mark is not
        # mistaken for one minted before it.
        now = time.time_ns() // 1_000_000 / 1000
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": now,
            "exp": int(now) + self.ttl_seconds,
            "typ": "access",
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})


def jwks(public_keys: dict[str, Ed25519PublicKey]) -> dict[str, list[dict[str, str]]]:
    """RFC 8037 OKP keys, so any JOSE library can verify our tokens."""
    keys = []
    for kid, key in public_keys.items():
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        keys.append(
            {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": ALGORITHM, "use": "sig"}
        )
    return {"keys": keys}
