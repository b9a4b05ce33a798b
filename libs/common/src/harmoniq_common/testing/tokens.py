"""Access tokens for tests of services other than auth, signed with the test key pair.

The claims are the contract every service verifies (``harmoniq_common.auth``); auth's own
tests prove that auth mints exactly these.
"""

from __future__ import annotations

import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..auth import ALGORITHM, key_id
from .keys import KeyFiles

__all__ = ["access_token"]


def access_token(
    keys: KeyFiles,
    user_id: int,
    session_id: int = 1,
    *,
    issuer: str = "harmoniq",
    audience: str = "harmoniq",
    ttl_seconds: int = 900,
) -> str:
    key = serialization.load_pem_private_key(keys.private_key_file.read_bytes(), None)
    assert isinstance(key, Ed25519PrivateKey)
    now = time.time_ns() // 1_000_000 / 1000
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "sid": str(session_id),
        "iat": now,
        "exp": int(now) + ttl_seconds,
        "typ": "access",
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": key_id(key.public_key())})
