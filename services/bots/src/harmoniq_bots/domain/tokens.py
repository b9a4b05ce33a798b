"""Webhook tokens: 32 random bytes shown once, kept only as their SHA-256.

A token is a bearer secret with 256 bits of entropy, so a plain (unsalted, fast) hash is
enough: nothing can be guessed from it, and a stolen table executes nothing. Comparison is in
constant time, and a malformed or unknown token is refused exactly like a wrong one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["MAX_TOKEN_LENGTH", "hash_token", "matches", "new_token"]

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 128


def new_token() -> tuple[str, bytes]:
    """A fresh token (URL-safe, 43 characters) and the hash to store."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def matches(token: str, stored: bytes) -> bool:
    if len(token) > MAX_TOKEN_LENGTH:
        return False
    return hmac.compare_digest(hash_token(token), stored)
