"""Refresh rotation, reuse detection, logout and logout-all, with their events."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

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
