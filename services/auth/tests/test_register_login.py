"""Register and log in, with every kind of bad input."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from auth_testing import PASSWORD, bearer, from_ip, register

Client = AsyncTestClient[Any]


async def test_register_returns_the_account_and_working_tokens(client: Client) -> None:
    body = await register(client, "Alice", "Alice@Example.com")
    assert body["user"]["username"] == "Alice"
    assert body["user"]["email"] == "alice@example.com"
    assert body["user"]["status"] == "online"
    assert isinstance(body["user"]["id"], str) and body["user"]["id"].isdecimal()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]
    assert "password_hash" not in me.json()


@pytest.mark.parametrize(
    ("username", "email"),
    [("ALICE", "other@example.com"), ("bob", "ALICE@example.COM")],
    ids=["username-any-case", "email-any-case"],
)
async def test_username_and_email_are_unique_case_insensitively(
    client: Client, username: str, email: str
) -> None:
    await register(client, "alice", "alice@example.com")
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": username, "email": email, "password": PASSWORD},
        headers=from_ip("10.0.0.2"),
    )
    assert response.status_code == 409
    field = "username" if username == "ALICE" else "email"
    assert response.json()["code"] == f"{field}_taken"
    assert response.json()["errors"][0]["field"] == field


BAD_REGISTRATIONS = {
    "missing password": {"username": "bob", "email": "bob@example.com"},
    "short password": {"username": "bob", "email": "bob@example.com", "password": "short"},
    "oversized password": {"username": "bob", "email": "bob@example.com", "password": "x" * 129},
    "short username": {"username": "b", "email": "bob@example.com", "password": PASSWORD},
    "long username": {"username": "b" * 33, "email": "bob@example.com", "password": PASSWORD},
    "username with spaces": {"username": "bo b", "email": "b@example.com", "password": PASSWORD},
    "username with emoji": {"username": "bob😀", "email": "b@example.com", "password": PASSWORD},
    "malformed email": {"username": "bob", "email": "not-an-email", "password": PASSWORD},
    "oversized email": {"username": "bob", "email": "a" * 250 + "@x.io", "password": PASSWORD},
    "wrong type": {"username": 42, "email": "bob@example.com", "password": PASSWORD},
    "unknown field": {
        "username": "bob",
        "email": "b@example.com",
        "password": PASSWORD,
        "admin": True,
    },
}


@pytest.mark.parametrize("payload", BAD_REGISTRATIONS.values(), ids=BAD_REGISTRATIONS.keys())
async def test_bad_registration_is_400_and_creates_nothing(
    client: Client, payload: dict[str, Any]
) -> None:
    response = await client.post("/api/v1/auth/register", json=payload, headers=from_ip("10.1.0.1"))
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert body["message"]
    assert isinstance(body["errors"], list)
    login = await client.post(
        "/api/v1/auth/login",
        json={"login": "bob@example.com", "password": PASSWORD},
        headers=from_ip("10.1.0.2"),
    )
    assert login.status_code == 401


async def test_malformed_json_is_400(client: Client) -> None:
    response = await client.post(
        "/api/v1/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


async def test_oversized_body_is_413(client: Client) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        content=b'{"username": "' + b"a" * 2_000_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize("login", ["alice@example.com", "ALICE", "Alice@EXAMPLE.com"])
async def test_login_by_email_or_username(client: Client, login: str) -> None:
    registered = await register(client, "alice")
    response = await client.post(
        "/api/v1/auth/login",
        json={"login": login, "password": PASSWORD},
        headers=from_ip("10.0.0.9"),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["id"] == registered["user"]["id"]
    assert body["refresh_token"] != registered["refresh_token"]
    me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200


@pytest.mark.parametrize(
    ("login", "password"),
    [("alice@example.com", "wrong password"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-account"],
)
async def test_bad_credentials_are_401_with_the_same_answer(
    client: Client, login: str, password: str
) -> None:
    await register(client, "alice")
    response = await client.post(
        "/api/v1/auth/login",
        json={"login": login, "password": password},
        headers=from_ip("10.0.0.3"),
    )
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "wrong login or password",
        "errors": [],
    }
