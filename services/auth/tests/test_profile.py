"""The caller's profile, password change, and public profiles."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.events import UserUpdated, decode_payload
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.routes import id_parameter_problems

from auth_testing import PASSWORD, bearer, from_ip, register

Client = AsyncTestClient[Any]


async def test_update_username_avatar_and_status(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    me = await register(client)
    response = await client.patch(
        "/api/v1/users/me",
        json={"username": "alice2", "avatar_url": "https://cdn.example.com/a.png", "status": "dnd"},
        headers=bearer(me["access_token"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["username"], body["avatar_url"], body["status"]) == (
        "alice2",
        "https://cdn.example.com/a.png",
        "dnd",
    )
    assert body["tokens"] is None
    cleared = await client.patch(
        "/api/v1/users/me", json={"avatar_url": None}, headers=bearer(me["access_token"])
    )
    assert cleared.json()["avatar_url"] is None
    assert cleared.json()["username"] == "alice2"

    user_id = me["user"]["id"]
    envelopes = await collect_events(
        nats_client, namespace, f"{namespace}.ev.user.{user_id}.user.updated", count=2
    )
    first = decode_payload(envelopes[0])
    assert isinstance(first, UserUpdated)
    assert first.user.username == "alice2" and first.status == "dnd"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "a b"},
        {"status": "sleeping"},
        {"avatar_url": "javascript:alert(1)"},
        {"avatar_url": "https://x/" + "a" * 2048},
        {"email": "new@example.com"},
        {"current_password": PASSWORD},
        {"password": "short", "current_password": PASSWORD},
    ],
    ids=[
        "empty",
        "bad-username",
        "bad-status",
        "bad-avatar-scheme",
        "oversized-avatar",
        "unknown-field",
        "current-without-new",
        "short-new-password",
    ],
)
async def test_bad_profile_updates_are_400_and_change_nothing(
    client: Client, payload: dict[str, Any]
) -> None:
    me = await register(client)
    response = await client.patch(
        "/api/v1/users/me", json=payload, headers=bearer(me["access_token"])
    )
    assert response.status_code == 400, response.text
    after = (await client.get("/api/v1/auth/me", headers=bearer(me["access_token"]))).json()
    assert after == me["user"]


async def test_username_taken_is_409(client: Client) -> None:
    await register(client, "bob", ip="10.0.0.5")
    me = await register(client, "alice")
    response = await client.patch(
        "/api/v1/users/me", json={"username": "BOB"}, headers=bearer(me["access_token"])
    )
    assert response.status_code == 409
    assert response.json()["code"] == "username_taken"


async def test_password_change_needs_the_current_password(client: Client) -> None:
    me = await register(client)
    for payload in (
        {"password": "a new password"},
        {"password": "a new password", "current_password": "wrong password"},
    ):
        response = await client.patch(
            "/api/v1/users/me", json=payload, headers=bearer(me["access_token"])
        )
        assert response.status_code in (400, 401)
    login = await client.post(
        "/api/v1/auth/login",
        json={"login": "alice", "password": PASSWORD},
        headers=from_ip("10.9.0.1"),
    )
    assert login.status_code == 200


async def test_password_change_revokes_every_old_token_and_returns_new_ones(
    client: Client,
) -> None:
    me = await register(client)
    response = await client.patch(
        "/api/v1/users/me",
        json={"password": "a brand new secret", "current_password": PASSWORD},
        headers=bearer(me["access_token"]),
    )
    assert response.status_code == 200, response.text
    tokens = response.json()["tokens"]
    old = await client.get("/api/v1/auth/me", headers=bearer(me["access_token"]))
    assert old.status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})
    assert refresh.status_code == 401
    new = await client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
    assert new.status_code == 200
    old_login = await client.post(
        "/api/v1/auth/login",
        json={"login": "alice", "password": PASSWORD},
        headers=from_ip("10.9.0.2"),
    )
    assert old_login.status_code == 401
    new_login = await client.post(
        "/api/v1/auth/login",
        json={"login": "alice", "password": "a brand new secret"},
        headers=from_ip("10.9.0.3"),
    )
    assert new_login.status_code == 200


async def test_public_profile(client: Client) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob", ip="10.0.0.6")
    response = await client.get(
        f"/api/v1/users/{alice['user']['id']}", headers=bearer(bob["access_token"])
    )
    assert response.status_code == 200
    assert response.json() == {
        "id": alice["user"]["id"],
        "username": "alice",
        "avatar_url": None,
        "created_at": alice["user"]["created_at"],
    }
    assert (await client.get(f"/api/v1/users/{alice['user']['id']}")).status_code == 401
    missing = await client.get("/api/v1/users/123456789", headers=bearer(bob["access_token"]))
    assert missing.status_code == 404
    bad = await client.get("/api/v1/users/abc", headers=bearer(bob["access_token"]))
    assert bad.status_code == 400


async def test_every_id_parameter_is_typed(client: Client) -> None:
    """A snowflake in OpenAPI, and ``x`` in its place a 400 naming it (``/users/x``…)."""
    me = await register(client)
    assert await id_parameter_problems(client, bearer(me["access_token"])) == []
