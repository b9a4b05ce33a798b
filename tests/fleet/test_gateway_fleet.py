"""The gateway as real processes behind nginx: two instances, a kill -9, nothing lost.

Two people on different instances see each other's presence, typing, messages and reactions;
one instance dies without a word, its client resumes on the other and gets exactly what it
missed, and presence stays right: still online after the resume, offline when they leave.
"""

from __future__ import annotations

import secrets
import signal
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from harmoniq_gateway.protocol import Op

from fleet import Fleet
from gateway_client import GatewayClient


@pytest.fixture(scope="module")
def fleet_instances() -> dict[str, int]:
    return {"gateway": 2}


def _register(http: httpx.Client, name: str) -> dict[str, Any]:
    body = http.post(
        "/api/v1/auth/register",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "correct horse battery",
        },
    )
    assert body.status_code == 201, body.text
    result: dict[str, Any] = body.json()
    return result


async def test_clients_on_two_instances_chat_and_survive_a_kill(
    fleet: Fleet, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    ada, bo = _register(http, f"ada{tag}"), _register(http, f"bo{tag}")
    auth_ada = {"Authorization": f"Bearer {ada['access_token']}"}
    auth_bo = {"Authorization": f"Bearer {bo['access_token']}"}
    server = http.post("/api/v1/servers", json={"name": "Relay"}, headers=auth_ada).json()
    channel = next(
        c
        for c in http.get(f"/api/v1/servers/{server['id']}/channels", headers=auth_ada).json()
        if c["kind"] == "text"
    )
    invite = http.post(
        f"/api/v1/channels/{channel['id']}/invites", json={}, headers=auth_ada
    ).json()
    assert http.post(f"/api/v1/invites/{invite['code']}", headers=auth_bo).status_code == 200

    url = fleet.url.replace("http://", "ws://") + "/gateway"
    # nginx balances round robin: consecutive connections land on different instances.
    clients = {name: await GatewayClient.connect(url) for name in ("ada", "bo")}
    # The client offered permessage-deflate (websockets does, as browsers do); the gateway
    # declines it (services.toml): clients compress with ?compress=zlib-stream.
    response = clients["ada"].connection.response
    assert response is not None and "Sec-WebSocket-Extensions" not in response.headers
    ids = {"ada": ada["user"]["id"], "bo": bo["user"]["id"]}
    await clients["ada"].identify(ada["access_token"])
    await clients["bo"].identify(bo["access_token"])
    assert await _status_of(clients["ada"], ids["bo"]) == "online"  # across instances

    await clients["ada"].send(Op.TYPING, {"channel_id": channel["id"]})
    typing = await clients["bo"].dispatch("typing.start")
    assert typing["d"]["user_id"] == ids["ada"] and typing["d"]["channel_id"] == channel["id"]

    messages_url = f"/api/v1/channels/{channel['id']}/messages"
    hello = http.post(messages_url, json={"content": "hello from ada"}, headers=auth_ada).json()
    reply = http.post(
        messages_url, json={"content": "hi ada", "reply_to_id": hello["id"]}, headers=auth_bo
    ).json()
    for client in clients.values():
        got = [await client.dispatch("message.create") for _ in range(2)]
        assert [g["d"]["message"]["id"] for g in got] == [hello["id"], reply["id"]]
    reacted = http.put(f"{messages_url}/{hello['id']}/reactions/{quote('👋')}/@me", headers=auth_bo)
    assert reacted.status_code == 204, reacted.text
    reaction = await clients["ada"].dispatch("reaction.add")
    assert reaction["d"]["user_id"] == ids["bo"] and reaction["d"]["emoji"] == "👋"

    # One instance dies without a word.
    victim = fleet.processes["gateway"][0]
    assert Fleet.stop_process(victim, signal.SIGKILL) == -signal.SIGKILL
    missed = http.post(
        messages_url, json={"content": "while one was down"}, headers=auth_ada
    ).json()

    resumed: list[str] = []
    for name, token in (("ada", ada["access_token"]), ("bo", bo["access_token"])):
        client = clients[name]
        message = await _next_message_or_drop(client)
        if message is None:  # it was on the killed instance: resume through nginx elsewhere
            resumed.append(name)
            again = await GatewayClient.connect(url)
            await again.send(
                Op.RESUME, {"token": token, "session_id": client.session_id, "seq": client.seq}
            )
            assert (await again.dispatch())["t"] == "resumed"
            message = await again.dispatch("message.create")
            clients[name] = again
        assert message["d"]["message"]["id"] == missed["id"]
    assert len(resumed) == 1, "the two clients were on different instances"

    # Presence after the kill: the resumed user is still online (a fresh READY says so), and
    # goes offline when they leave, although their first instance never said goodbye.
    [moved] = resumed
    stayed = "bo" if moved == "ada" else "ada"
    tokens = {"ada": ada["access_token"], "bo": bo["access_token"]}
    fresh = await GatewayClient.connect(url)
    ready = await fresh.identify(tokens[stayed])
    assert {(p["user_id"], p["status"]) for p in ready["d"]["presences"]} == {
        (ids[moved], "online")
    }
    await clients[moved].close()
    assert await _status_of(clients[stayed], ids[moved]) == "offline"
    for client in (clients[stayed], fresh):
        await client.close()
    fleet.processes["gateway"].remove(victim)


async def _status_of(client: GatewayClient, user_id: str) -> str:
    """The next presence of ``user_id`` this client is told."""
    while True:
        frame = await client.dispatch("presence.update", timeout=15)
        if frame["d"]["user_id"] == user_id:
            status: str = frame["d"]["status"]
            return status


async def _next_message_or_drop(client: GatewayClient) -> dict[str, Any] | None:
    try:
        return await client.dispatch("message.create", timeout=15)
    except Exception:
        return None
