"""Redis comes back empty: no logged-out token or old bot token is accepted, ever, and auth
rebuilds the revocation state from Postgres by itself, so everything valid works again."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from harmoniq_auth.app import create_app
from harmoniq_auth.settings import AuthSettings
from harmoniq_common.testing.waiting import eventually

from auth_testing import bearer, register

Client = AsyncTestClient[Any]


async def _lose_everything(redis: Redis, namespace: str) -> None:
    """What a Redis restart without persistence does to this fleet's keys."""
    async for key in redis.scan_iter(match=f"{namespace}:*", count=1000):
        await redis.delete(key)


async def _status(client: Client, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/auth/me", headers=headers)).status_code


async def test_lost_revocation_state_fails_closed_then_is_rebuilt(
    auth_settings: AuthSettings, redis_client: Redis, namespace: str
) -> None:
    settings = msgspec.structs.replace(auth_settings, revocation_check_interval_seconds=0.2)
    async with AsyncTestClient(create_app(settings)) as client:
        alice = await register(client)
        logged_out = await register(client, "bob", ip="10.0.0.2")
        assert (
            await client.post("/api/v1/auth/logout", headers=bearer(logged_out["access_token"]))
        ).status_code == 204
        made = await client.post(
            "/api/v1/bots", json={"username": "helper"}, headers=bearer(alice["access_token"])
        )
        old_bot_token = made.json()["token"]
        reset = await client.post(
            f"/api/v1/bots/{made.json()['bot']['id']}/token",
            headers=bearer(alice["access_token"]),
        )
        assert reset.status_code == 200, reset.text
        bot = {"Authorization": f"Bot {reset.json()['token']}"}
        old_bot = {"Authorization": f"Bot {old_bot_token}"}
        assert await _status(client, bearer(logged_out["access_token"])) == 401
        assert await _status(client, old_bot) == 401

        await _lose_everything(redis_client, namespace)
        # Until auth has rewritten the state, nothing is trusted: 503, never 200.
        for headers in (bearer(logged_out["access_token"]), old_bot):
            assert await _status(client, headers) in (401, 503)

        async def rebuilt() -> bool:
            return await _status(client, bearer(alice["access_token"])) == 200

        await eventually(rebuilt, timeout=10, what="the revocation state being rebuilt")
        assert await _status(client, bearer(logged_out["access_token"])) == 401
        assert await _status(client, old_bot) == 401
        assert await _status(client, bot) == 200
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text


async def test_without_the_state_every_service_refuses_and_says_it_is_not_ready(
    auth_settings: AuthSettings, redis_client: Redis, namespace: str
) -> None:
    """No auth instance restores it (the check interval is an hour): fail closed, not open."""
    settings = msgspec.structs.replace(auth_settings, revocation_check_interval_seconds=3600)
    async with AsyncTestClient(create_app(settings)) as client:
        alice = await register(client)
        await _lose_everything(redis_client, namespace)
        response = await client.get("/api/v1/auth/me", headers=bearer(alice["access_token"]))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["revocation_state"] != "ok"
