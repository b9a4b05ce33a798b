"""Account deletion: disabled at once, anonymised, announced, purged after 30 days."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_auth.settings import AuthSettings
from harmoniq_common.events import UserDeleted, decode_payload
from harmoniq_common.testing.events import collect_events

from auth_testing import PASSWORD, bearer, from_ip, register

Client = AsyncTestClient[Any]


async def _delete(client: Client, token: str, password: str = PASSWORD) -> Any:
    return await client.request(
        "DELETE", "/api/v1/users/me", json={"password": password}, headers=bearer(token)
    )


async def test_delete_needs_the_password(client: Client) -> None:
    me = await register(client)
    wrong = await _delete(client, me["access_token"], "wrong password")
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_password"
    assert (
        await client.get("/api/v1/auth/me", headers=bearer(me["access_token"]))
    ).status_code == 200


async def test_deleted_account_is_disabled_anonymised_and_announced(
    client: Client, auth_settings: AuthSettings, nats_client: NatsClient, namespace: str
) -> None:
    me = await register(client)
    other = await register(client, "bob", ip="10.0.0.4")
    user_id = me["user"]["id"]
    assert (await _delete(client, me["access_token"])).status_code == 204

    assert (
        await client.get("/api/v1/auth/me", headers=bearer(me["access_token"]))
    ).status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": me["refresh_token"]})
    assert refresh.status_code == 401
    login = await client.post(
        "/api/v1/auth/login",
        json={"login": "alice", "password": PASSWORD},
        headers=from_ip("10.2.0.1"),
    )
    assert login.status_code == 401
    profile = await client.get(f"/api/v1/users/{user_id}", headers=bearer(other["access_token"]))
    assert profile.status_code == 404

    conn = await asyncpg.connect(auth_settings.database_url)
    try:
        row = await conn.fetchrow("SELECT * FROM auth.users WHERE id = $1", int(user_id))
    finally:
        await conn.close()
    assert row["email"] is None and row["password_hash"] is None and row["avatar_url"] is None
    assert row["username"] == f"deleted-{user_id}"
    assert row["deleted_at"] is not None

    # The name and address are free again.
    again = await register(client, "alice", ip="10.2.0.2")
    assert again["user"]["id"] != user_id

    [envelope] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.user.{user_id}.user.deleted", count=1
    )
    event = decode_payload(envelope)
    assert isinstance(event, UserDeleted)
    assert str(event.user_id) == user_id


async def test_purge_removes_accounts_after_retention_and_is_safe_in_parallel(
    client: Client, auth_settings: AuthSettings
) -> None:
    old = await register(client, "old")
    recent = await register(client, "recent", ip="10.0.0.2")
    for account in (old, recent):
        assert (await _delete(client, account["access_token"])).status_code == 204
    conn = await asyncpg.connect(auth_settings.database_url)
    try:
        await conn.execute(
            "UPDATE auth.users SET deleted_at = now() - interval '31 days' WHERE id = $1",
            int(old["user"]["id"]),
        )
        accounts = client.app.state.accounts

        async def two_purgers_at_once() -> list[int]:
            return list(await asyncio.gather(accounts.purge(), accounts.purge()))

        # As on two instances: the account is removed once, without error. The app runs in
        # the test client's own event loop, so the purge is called there.
        removed = await asyncio.to_thread(client.blocking_portal.call, two_purgers_at_once)
        assert sorted(removed) == [0, 1]
        remaining = {r["id"] for r in await conn.fetch("SELECT id FROM auth.users")}
        sessions = await conn.fetchval(
            "SELECT count(*) FROM auth.sessions WHERE user_id = $1", int(old["user"]["id"])
        )
    finally:
        await conn.close()
    assert int(old["user"]["id"]) not in remaining
    assert int(recent["user"]["id"]) in remaining
    assert sessions == 0
