"""Bot accounts: made by a user, authenticated by ``Bot <token>``, reset and deleted by them."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis

from harmoniq_common.events import UserCreated, UserSessionsRevoked, decode_payload
from harmoniq_common.testing.events import collect_events

from auth_testing import PASSWORD, bearer, register

Client = AsyncTestClient[Any]


def bot_auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bot {token}"}


async def _make_bot(client: Client, owner: dict[str, Any], name: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/bots", json={"username": name}, headers=bearer(owner["access_token"])
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _me(client: Client, headers: dict[str, str]) -> Any:
    return await client.get("/api/v1/auth/me", headers=headers)


async def test_a_bot_is_made_announced_listed_and_authenticated_by_its_token(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    alice = await register(client)
    made = await _make_bot(client, alice, "helper")
    bot, token = made["bot"], made["token"]
    assert bot["username"] == "helper" and bot["owner_id"] == alice["user"]["id"]
    assert token.startswith(f"{bot['id']}.") and len(token) > len(bot["id"]) + 40

    me = await _me(client, bot_auth(token))
    assert me.status_code == 200 and me.json()["id"] == bot["id"]
    listed = await client.get("/api/v1/bots", headers=bearer(alice["access_token"]))
    assert [b["id"] for b in listed.json()] == [bot["id"]]
    assert "token" not in listed.json()[0]
    [envelope] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.user.{bot['id']}.user.created", count=1
    )
    created = decode_payload(envelope)
    assert isinstance(created, UserCreated) and created.user.username == "helper"

    # A bot has no password: it cannot log in as a user would.
    login = await client.post("/api/v1/auth/login", json={"login": "helper", "password": PASSWORD})
    assert login.status_code == 401


async def test_a_reset_kills_the_old_token_at_once_and_closes_its_connections(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    alice = await register(client)
    made = await _make_bot(client, alice, "helper")
    bot_id, old = made["bot"]["id"], made["token"]
    revoked = asyncio.ensure_future(
        collect_events(
            nats_client,
            namespace,
            f"{namespace}.ev.user.{bot_id}.user.sessions_revoked",
            count=1,
        )
    )
    reset = await client.post(f"/api/v1/bots/{bot_id}/token", headers=bearer(alice["access_token"]))
    assert reset.status_code == 200, reset.text
    new = reset.json()["token"]
    assert new != old
    assert (await _me(client, bot_auth(old))).status_code == 401
    assert (await _me(client, bot_auth(new))).status_code == 200
    [envelope] = await revoked
    event = decode_payload(envelope)
    assert isinstance(event, UserSessionsRevoked) and event.session_id is None


async def test_only_their_owner_manages_bots_and_bots_manage_none(client: Client) -> None:
    alice, bob = await register(client), await register(client, "bob", ip="10.0.0.9")
    made = await _make_bot(client, alice, "helper")
    bot_id, token = made["bot"]["id"], made["token"]
    for method, path in (
        ("POST", f"/api/v1/bots/{bot_id}/token"),
        ("DELETE", f"/api/v1/bots/{bot_id}"),
    ):
        refused = await client.request(method, path, headers=bearer(bob["access_token"]))
        assert refused.status_code == 404, refused.text  # someone else's bot: no such bot
    assert (await client.get("/api/v1/bots", headers=bearer(bob["access_token"]))).json() == []
    as_bot = await client.post("/api/v1/bots", json={"username": "child"}, headers=bot_auth(token))
    assert as_bot.status_code == 403 and as_bot.json()["code"] == "users_only"
    assert (await client.get("/api/v1/bots", headers=bot_auth(token))).status_code == 403
    assert (await _me(client, bot_auth(token))).status_code == 200  # all of that changed nothing


async def test_bad_bot_input_and_tokens_are_refused(client: Client) -> None:
    alice = await register(client)
    headers = bearer(alice["access_token"])
    for body in ({"username": "x"}, {"username": "has space"}, {}, {"username": "ok", "extra": 1}):
        response = await client.post("/api/v1/bots", json=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
    taken = await client.post("/api/v1/bots", json={"username": "alice"}, headers=headers)
    assert taken.status_code == 409 and taken.json()["code"] == "username_taken"
    assert (await client.get("/api/v1/bots", headers=headers)).json() == []
    made = await _make_bot(client, alice, "helper")
    bot_id, token = made["bot"]["id"], made["token"]
    for forged in ("", "nonsense", bot_id, f"{bot_id}.", f"{bot_id}.{'A' * 43}", f"1{token}"):
        assert (await _me(client, bot_auth(forged))).status_code == 401, forged
    assert (await _me(client, {"Authorization": f"Bearer {token}"})).status_code == 401


async def test_deleting_a_bot_or_its_owner_kills_its_token(
    client: Client, redis_client: Redis, namespace: str
) -> None:
    alice = await register(client)
    first = await _make_bot(client, alice, "first")
    second = await _make_bot(client, alice, "second")
    gone = await client.delete(
        f"/api/v1/bots/{first['bot']['id']}", headers=bearer(alice["access_token"])
    )
    assert gone.status_code == 204
    assert (await _me(client, bot_auth(first["token"]))).status_code == 401
    assert [
        b["id"]
        for b in (await client.get("/api/v1/bots", headers=bearer(alice["access_token"]))).json()
    ] == [second["bot"]["id"]]

    deleted = await client.request(
        "DELETE",
        "/api/v1/users/me",
        json={"password": PASSWORD},
        headers=bearer(alice["access_token"]),
    )
    assert deleted.status_code == 204
    assert (await _me(client, bot_auth(second["token"]))).status_code == 401

    # Start-up restores Redis from Postgres: a dead bot's key written back (a lost removal)
    # is removed again, and a live bot's lost key comes back.
    bob = await register(client, "bob", ip="10.0.0.9")
    live = await _make_bot(client, bob, "survivor")
    await redis_client.delete(f"{namespace}:auth:bot:{live['bot']['id']}")
    await redis_client.set(f"{namespace}:auth:bot:{second['bot']['id']}", "stale")
    assert (await _me(client, bot_auth(live["token"]))).status_code == 401
    revocation = client.app.state.revocation
    await asyncio.to_thread(client.blocking_portal.call, revocation.restore)
    assert (await _me(client, bot_auth(live["token"]))).status_code == 200
    assert await redis_client.get(f"{namespace}:auth:bot:{second['bot']['id']}") is None
