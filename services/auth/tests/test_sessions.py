"""Refresh rotation, reuse detection, logout and logout-all, with their events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
import pytest_asyncio
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_auth.app import create_app
from harmoniq_auth.domain.tokens import hash_refresh_token
from harmoniq_auth.settings import AuthSettings
from harmoniq_common.events import UserSessionsRevoked, decode_payload
from harmoniq_common.testing.events import collect_events

from auth_testing import PASSWORD, bearer, from_ip, register

Client = AsyncTestClient[Any]


async def _refresh(client: Client, token: str) -> Any:
    return await client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def _login(client: Client, login: str = "alice", ip: str = "10.0.0.7") -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/login", json={"login": login, "password": PASSWORD}, headers=from_ip(ip)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_refresh_rotates_and_the_new_pair_works(client: Client) -> None:
    first = await register(client)
    response = await _refresh(client, first["refresh_token"])
    assert response.status_code == 200
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))
    ).status_code == 200
    third = await _refresh(client, second["refresh_token"])
    assert third.status_code == 200


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    """RFC 6819: a used refresh token presented again means it was copied."""
    first = await register(client)
    other_device = await _login(client)
    second = (await _refresh(client, first["refresh_token"])).json()

    reuse = await _refresh(client, first["refresh_token"])
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"

    # The thief's copy and the rightful holder's newer tokens are all dead now...
    assert (await _refresh(client, second["refresh_token"])).status_code == 401
    me = await client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))
    assert me.status_code == 401
    assert me.json()["code"] == "token_revoked"
    # ...but another session of the same user is untouched.
    other = await client.get("/api/v1/auth/me", headers=bearer(other_device["access_token"]))
    assert other.status_code == 200
    assert (await _refresh(client, other_device["refresh_token"])).status_code == 200

    user_id = first["user"]["id"]
    subject = f"{namespace}.ev.user.{user_id}.user.sessions_revoked"
    [envelope] = await collect_events(nats_client, namespace, subject, count=1)
    revoked = decode_payload(envelope)
    assert isinstance(revoked, UserSessionsRevoked)
    assert revoked.reason == "refresh_token_reused"
    assert revoked.session_id is not None


async def test_unknown_and_malformed_refresh_tokens_are_refused(client: Client) -> None:
    assert (await _refresh(client, "x" * 43)).status_code == 401
    assert (await _refresh(client, "")).status_code == 400
    assert (await client.post("/api/v1/auth/refresh", json={})).status_code == 400


async def test_logout_ends_only_this_session(client: Client) -> None:
    mine = await register(client)
    other = await _login(client)
    response = await client.post("/api/v1/auth/logout", headers=bearer(mine["access_token"]))
    assert response.status_code == 204
    me = await client.get("/api/v1/auth/me", headers=bearer(mine["access_token"]))
    assert me.status_code == 401
    assert (await _refresh(client, mine["refresh_token"])).status_code == 401
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(other["access_token"]))
    ).status_code == 200


async def test_logout_all_kills_every_token_and_publishes_the_revocation(
    client: Client, nats_client: NatsClient, namespace: str, auth_settings: AuthSettings
) -> None:
    first = await register(client)
    second = await _login(client)
    response = await client.post("/api/v1/auth/logout-all", headers=bearer(first["access_token"]))
    assert response.status_code == 204
    for tokens in (first, second):
        me = await client.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
        assert me.status_code == 401
        assert me.json()["code"] == "token_revoked"
        assert (await _refresh(client, tokens["refresh_token"])).status_code == 401
    # Logging in again afterwards works: the mark only kills older tokens.
    fresh = await _login(client, ip="10.0.0.8")
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(fresh["access_token"]))
    ).status_code == 200

    user_id = first["user"]["id"]
    subject = f"{namespace}.ev.user.{user_id}.user.sessions_revoked"
    [envelope] = await collect_events(nats_client, namespace, subject, count=1)
    revoked = decode_payload(envelope)
    assert isinstance(revoked, UserSessionsRevoked)
    assert revoked.reason == "logout_all"
    assert revoked.session_id is None
    assert str(revoked.user_id) == user_id


async def test_revocations_survive_the_loss_of_redis(
    client: Client, auth_settings: AuthSettings, redis_client: Any, namespace: str
) -> None:
    """Redis holds only what can be rebuilt: auth rewrites the marks from Postgres at start."""
    first = await register(client)
    await client.post("/api/v1/auth/logout-all", headers=bearer(first["access_token"]))
    second = await _login(client)
    await client.post("/api/v1/auth/logout", headers=bearer(second["access_token"]))
    async for key in redis_client.scan_iter(match=f"{namespace}:auth:*"):
        await redis_client.delete(key)
    # Without the marks the tokens would pass again; a restarted instance restores them.
    from harmoniq_auth.app import create_app

    async with AsyncTestClient(create_app(auth_settings)) as restarted:
        for tokens in (first, second):
            me = await restarted.get("/api/v1/auth/me", headers=bearer(tokens["access_token"]))
            assert me.status_code == 401
            assert me.json()["code"] == "token_revoked"


# --- the two clocks of a session: idle (per token) and absolute (per family) ----------------------
@pytest_asyncio.fixture(loop_scope="session")
async def short_lived(auth_settings: AuthSettings) -> AsyncIterator[Client]:
    settings = msgspec.structs.replace(
        auth_settings, refresh_token_ttl_seconds=600, refresh_family_max_age_seconds=3600
    )
    async with AsyncTestClient(create_app(settings)) as test_client:
        yield test_client


async def _family(database_url: str, refresh_token: str) -> tuple[datetime, datetime, datetime]:
    """(the session's login time, its end, the end of this refresh token)."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            "SELECT s.created_at, s.expires_at AS family_ends, t.expires_at AS token_ends"
            " FROM auth.refresh_tokens t JOIN auth.sessions s ON s.id = t.session_id"
            " WHERE t.token_hash = $1",
            hash_refresh_token(refresh_token),
        )
    finally:
        await conn.close()
    assert row is not None
    return row["created_at"], row["family_ends"], row["token_ends"]


async def test_rotation_renews_the_idle_clock_but_never_the_family(
    short_lived: Client, auth_settings: AuthSettings
) -> None:
    tokens = await register(short_lived)
    created, family_ends, token_ends = await _family(
        auth_settings.database_url, tokens["refresh_token"]
    )
    assert abs((family_ends - created).total_seconds() - 3600) < 5
    assert abs((token_ends - created).total_seconds() - 600) < 5
    for _ in range(3):
        tokens = (await _refresh(short_lived, tokens["refresh_token"])).json()
        _, ends, token_ends = await _family(auth_settings.database_url, tokens["refresh_token"])
        assert ends == family_ends, "a rotation must not extend the family"
        assert token_ends <= family_ends


async def test_a_family_past_its_maximum_age_is_refused_even_with_a_fresh_token(
    short_lived: Client, auth_settings: AuthSettings
) -> None:
    tokens = await register(short_lived)
    fresh = (await _refresh(short_lived, tokens["refresh_token"])).json()
    # An hour later (the family's age), the newest token is still inside its idle window.
    conn = await asyncpg.connect(auth_settings.database_url)
    try:
        await conn.execute(
            "UPDATE auth.sessions SET expires_at = now() - interval '1 second',"
            " created_at = now() - interval '3601 seconds'"
        )
        await conn.execute(
            "UPDATE auth.refresh_tokens SET expires_at = now() + interval '5 minutes'"
        )
    finally:
        await conn.close()
    refused = await _refresh(short_lived, fresh["refresh_token"])
    assert refused.status_code == 401
    assert refused.json()["code"] == "refresh_token_expired"
    assert "maximum age" in refused.json()["message"]


async def test_an_idle_token_dies_inside_a_live_family(
    short_lived: Client, auth_settings: AuthSettings
) -> None:
    tokens = await register(short_lived)
    conn = await asyncpg.connect(auth_settings.database_url)
    try:
        await conn.execute(
            "UPDATE auth.refresh_tokens SET expires_at = now() - interval '1 second'"
        )
    finally:
        await conn.close()
    refused = await _refresh(short_lived, tokens["refresh_token"])
    assert refused.status_code == 401
    assert refused.json() == {
        "code": "refresh_token_expired",
        "message": "refresh token expired",
        "errors": [],
    }
