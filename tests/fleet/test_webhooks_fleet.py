"""Webhooks through the real nginx: a manager creates one, an outside tool executes it with
nothing but its URL, and a member on the gateway sees the message live."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from fleet import Fleet
from gateway_client import GatewayClient


def _register(http: httpx.Client, name: str) -> dict[str, Any]:
    body = http.post(
        "/api/v1/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": "correct horse"},
    )
    assert body.status_code == 201, body.text
    result: dict[str, Any] = body.json()
    return result


async def test_an_executed_webhook_reaches_a_member_live(fleet: Fleet, http: httpx.Client) -> None:
    tag = secrets.token_hex(3)
    owner, member = _register(http, f"own{tag}"), _register(http, f"mem{tag}")
    auth_owner = {"Authorization": f"Bearer {owner['access_token']}"}
    auth_member = {"Authorization": f"Bearer {member['access_token']}"}
    server = http.post("/api/v1/servers", json={"name": "Hooks"}, headers=auth_owner).json()
    channel = next(
        c
        for c in http.get(f"/api/v1/servers/{server['id']}/channels", headers=auth_owner).json()
        if c["kind"] == "text"
    )
    invite = http.post(
        f"/api/v1/channels/{channel['id']}/invites", json={}, headers=auth_owner
    ).json()
    assert http.post(f"/api/v1/invites/{invite['code']}", headers=auth_member).status_code == 200

    made = http.post(
        f"/api/v1/servers/{server['id']}/webhooks",
        json={"channel_id": channel["id"], "name": "CI"},
        headers=auth_owner,
    )
    assert made.status_code == 201, made.text
    hook = made.json()
    listed = http.get(f"/api/v1/servers/{server['id']}/webhooks", headers=auth_owner)
    assert [w["id"] for w in listed.json()] == [hook["id"]]

    client = await GatewayClient.connect(fleet.url.replace("http://", "ws://") + "/gateway")
    await client.identify(member["access_token"])
    # An outside tool: its URL and JSON, no Authorization, no cookie.
    with httpx.Client(base_url=fleet.url, timeout=10) as tool:
        posted = tool.post(
            hook["url"],
            params={"wait": "true"},
            json={"content": "build green", "embeds": [{"title": "Build 1", "color": 65280}]},
        )
        assert posted.status_code == 200, posted.text
        wrong = tool.post(f"/api/v1/webhooks/{hook['id']}/{'x' * 43}", json={"content": "no"})
        assert wrong.status_code == 404
        assert wrong.json()["code"] == "unknown_webhook"
    frame = await client.dispatch("message.create")
    message = frame["d"]["message"]
    assert message["id"] == posted.json()["id"]
    assert message["webhook_id"] == hook["id"]
    assert message["author"]["username"] == "CI"
    assert message["embeds"] == [{"title": "Build 1", "color": 65280}]  # defaults left out
    history = http.get(f"/api/v1/channels/{channel['id']}/messages", headers=auth_member)
    assert history.json()[0]["webhook_id"] == hook["id"]
    await client.close()
