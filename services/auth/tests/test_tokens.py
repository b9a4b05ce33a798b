"""Access tokens: accepted only when genuine, current and unrevoked."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from litestar.testing import AsyncTestClient

from harmoniq_auth.settings import AuthSettings
from harmoniq_common.auth import key_id

from auth_testing import bearer, register

Client = AsyncTestClient[Any]


def _claims(user_id: str, **overrides: Any) -> dict[str, Any]:
    now = time.time()
    claims = {
        "iss": "harmoniq",
        "aud": "harmoniq",
        "sub": user_id,
        "sid": "1",
        "iat": now,
        "exp": int(now) + 600,
        "typ": "access",
    }
    claims.update(overrides)
    return claims


def _signing_key(settings: AuthSettings) -> ed25519.Ed25519PrivateKey:
    with open(settings.jwt_private_key_file, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


async def _me(client: Client, token: str) -> Any:
    return await client.get("/api/v1/auth/me", headers=bearer(token))


async def test_no_or_malformed_authorization_is_401(client: Client) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Bot abc.def.ghi"},
    ):
        response = await client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["code"] in {"unauthorized", "invalid_token"}


async def test_expired_token_is_refused(client: Client, auth_settings: AuthSettings) -> None:
    user = (await register(client))["user"]
    key = _signing_key(auth_settings)
    past = time.time() - 3600
    token = jwt.encode(
        _claims(user["id"], iat=past, exp=int(past) + 60),
        key,
        algorithm="EdDSA",
        headers={"kid": key_id(key.public_key())},
    )
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_token_signed_by_another_key_is_refused(
    client: Client, auth_settings: AuthSettings
) -> None:
    user = (await register(client))["user"]
    real_kid = key_id(_signing_key(auth_settings).public_key())
    forger = ed25519.Ed25519PrivateKey.generate()
    token = jwt.encode(_claims(user["id"]), forger, algorithm="EdDSA", headers={"kid": real_kid})
    assert (await _me(client, token)).status_code == 401


async def test_alg_none_is_refused(client: Client, auth_settings: AuthSettings) -> None:
    user = (await register(client))["user"]
    kid = key_id(_signing_key(auth_settings).public_key())

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(_claims(user['id']))}."
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_hs256_with_the_public_key_as_secret_is_refused(
    client: Client, auth_settings: AuthSettings
) -> None:
    """The classic key-confusion attack: sign HMAC with the (public) verification key."""
    user = (await register(client))["user"]
    kid = key_id(_signing_key(auth_settings).public_key())
    with open(auth_settings.jwt_public_key_file, "rb") as handle:
        public_pem = handle.read()
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
        for part in (header, _claims(user["id"]))
    )
    import hashlib
    import hmac

    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(signature).decode().rstrip("=")
    response = await _me(client, token)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_rs256_token_is_refused(client: Client) -> None:
    user = (await register(client))["user"]
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(user["id"]), rsa_key, algorithm="RS256", headers={"kid": "x"})
    assert (await _me(client, token)).status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"iss": "evil"},
        {"typ": "refresh"},
        {"sub": "not-a-number"},
        {"sid": None},
    ],
    ids=["audience", "issuer", "type", "subject", "no-session"],
)
async def test_tokens_with_wrong_claims_are_refused(
    client: Client, auth_settings: AuthSettings, overrides: dict[str, Any]
) -> None:
    user = (await register(client))["user"]
    key = _signing_key(auth_settings)
    claims = {k: v for k, v in _claims(user["id"], **overrides).items() if v is not None}
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": key_id(key.public_key())})
    assert (await _me(client, token)).status_code == 401


async def test_jwks_publishes_the_verification_key(
    client: Client, auth_settings: AuthSettings
) -> None:
    body = (await client.get("/api/v1/auth/jwks")).json()
    key = _signing_key(auth_settings)
    [jwk] = body["keys"]
    assert jwk["kid"] == key_id(key.public_key())
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    # A token we mint verifies with the published key alone.
    user = await register(client)
    public = jwt.PyJWK(jwk).key
    claims = jwt.decode(user["access_token"], public, algorithms=["EdDSA"], audience="harmoniq")
    assert claims["sub"] == user["user"]["id"]
