"""The verifier remembers tokens it has checked (issue #15), never past their expiry."""

from __future__ import annotations

import time
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harmoniq_common.auth import RevocationMarks, TokenVerifier, key_id
from harmoniq_common.errors import Unauthorized


def _token(key: Ed25519PrivateKey, **claims: Any) -> str:
    now = time.time()
    body = {
        "iss": "harmoniq",
        "aud": "harmoniq",
        "sub": "5",
        "sid": "1",
        "iat": now,
        "exp": now + 600,
        "typ": "access",
        **claims,
    }
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": key_id(key.public_key())})


def _verifier(key: Ed25519PrivateKey) -> TokenVerifier:
    # decode() checks signature and claims only: the revocation marks are not asked.
    return TokenVerifier(
        {key_id(key.public_key()): key.public_key()},
        cast(RevocationMarks, None),
        issuer="harmoniq",
        audience="harmoniq",
        leeway_seconds=0,
    )


def test_a_remembered_token_is_refused_once_it_expires() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = _verifier(key)
    expires = time.time() + 1.0
    token = _token(key, exp=expires)
    assert verifier.decode(token)["sub"] == "5"
    assert verifier.decode(token)["sub"] == "5"  # from memory
    time.sleep(max(0.0, expires - time.time()) + 0.05)  # the token's lifetime has to pass
    with pytest.raises(Unauthorized) as refused:
        verifier.decode(token)
    assert refused.value.code == "token_expired"


def test_remembering_a_genuine_token_admits_no_altered_one() -> None:
    key = Ed25519PrivateKey.generate()
    verifier = _verifier(key)
    token = _token(key)
    assert verifier.decode(token)["sub"] == "5"
    head, body, signature = token.split(".")
    forged_body = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(body).replace(b'"sub":"5"', b'"sub":"6"')
    ).decode()
    for altered in (
        f"{head}.{forged_body}.{signature}",
        f"{head}.{body}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
    ):
        with pytest.raises(Unauthorized):
            verifier.decode(altered)
    other = _verifier(Ed25519PrivateKey.generate())
    with pytest.raises(Unauthorized):
        other.decode(token)  # each verifier remembers only what it checked with its keys
