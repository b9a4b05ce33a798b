"""Outgoing webhook signatures: HMAC-SHA256 over ``<timestamp>.<body>``.

Every delivery carries::

    X-Harmoniq-Timestamp: 1767225600            (Unix seconds when it was sent)
    X-Harmoniq-Signature: v1=<64 hex digits>    (HMAC-SHA256, key = the endpoint's secret,
                                                 message = timestamp + "." + raw body)

A receiver recomputes it over the raw body (before parsing), compares in constant time, and
refuses a timestamp too far from its clock (replays). :func:`verify` is that check, the one
``docs/bots.md`` shows.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Harmoniq-Signature"
TIMESTAMP_HEADER = "X-Harmoniq-Timestamp"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    if not timestamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)
