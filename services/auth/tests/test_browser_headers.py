"""What browsers are told: token responses are never stored, and CORS is same-origin unless an
origin is allowed by name (HARMONIQ_CORS_ALLOWED_ORIGINS, wired in libs/common's app factory)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest_asyncio
from litestar.testing import AsyncTestClient

from harmoniq_auth.app import create_app
from harmoniq_auth.settings import AuthSettings

from auth_testing import PASSWORD, bearer, register

Client = AsyncTestClient[Any]
ALLOWED = "https://chat.example.com"
# What lets a browser hand a response to another origin's script. (On actual responses Litestar
# also lists its static Allow-Methods/Allow-Headers/Expose-Headers to any Origin, litestar#3178;
# without Allow-Origin they grant nothing.)
GRANTS = ("access-control-allow-origin", "access-control-allow-credentials")


async def test_every_response_with_a_token_says_no_store(client: Client) -> None:
    body = await register(client, "alice")
    registered = await client.post(
        "/api/v1/auth/register",
        json={"username": "bob", "email": "bob@example.com", "password": PASSWORD},
    )
    login = await client.post("/api/v1/auth/login", json={"login": "alice", "password": PASSWORD})
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.json()["refresh_token"]}
    )
    password = await client.patch(
        "/api/v1/users/me",
        json={"password": "a new password 1", "current_password": PASSWORD},
        headers=bearer(refresh.json()["access_token"]),
    )
    token = password.json()["tokens"]["access_token"]
    bot = await client.post("/api/v1/bots", json={"username": "helper"}, headers=bearer(token))
    reset = await client.post(
        f"/api/v1/bots/{bot.json()['bot']['id']}/token", headers=bearer(token)
    )
    responses = {
        "register": registered,
        "login": login,
        "refresh": refresh,
        "password change": password,
        "bot created": bot,
        "bot token reset": reset,
    }
    for name, response in responses.items():
        assert response.status_code in (200, 201), (name, response.text)
        assert response.headers.get("cache-control") == "no-store", name
    assert body["access_token"]


async def test_same_origin_by_default_no_cors_headers_at_all(client: Client) -> None:
    response = await client.get("/api/v1/auth/jwks", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert not [h for h in response.headers if h.lower().startswith("access-control-")]
    preflight = await client.options(
        "/api/v1/auth/login",
        headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"},
    )
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]


@pytest_asyncio.fixture(loop_scope="session")
async def cors_client(auth_settings: AuthSettings) -> AsyncIterator[Client]:
    settings = msgspec.structs.replace(auth_settings, cors_allowed_origins=[ALLOWED])
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


async def test_an_allowed_origin_gets_cors_and_its_preflight_passes(cors_client: Client) -> None:
    preflight = await cors_client.options(
        "/api/v1/auth/login",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed_headers = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed_headers
    assert "content-type" in allowed_headers
    assert "access-control-allow-credentials" not in preflight.headers  # tokens, not cookies

    body = await register(cors_client, "carol")
    me = await cors_client.get(
        "/api/v1/auth/me", headers={"Origin": ALLOWED, **bearer(body["access_token"])}
    )
    assert me.status_code == 200
    assert me.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in me.headers["vary"]
    exposed = me.headers["access-control-expose-headers"]
    assert "Retry-After" in exposed
    assert "X-RateLimit-Remaining" in exposed


async def test_other_origins_get_no_grant(cors_client: Client) -> None:
    """A look-alike of the allowed origin included: origins match in full, never as prefixes."""
    for origin in ("https://evil.example", f"{ALLOWED}.evil.example", "http://chat.example.com"):
        response = await cors_client.get("/api/v1/auth/jwks", headers={"Origin": origin})
        assert response.status_code == 200
        assert not [h for h in GRANTS if h in response.headers], (origin, response.headers)
        preflight = await cors_client.options(
            "/api/v1/auth/login",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 400
        assert not [h for h in preflight.headers if h.startswith("access-control-")], origin
