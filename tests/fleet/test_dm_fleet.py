"""Direct messages through nginx, against the real processes: two people become friends and
DM each other live over the gateway, a third is in a group DM with them, one blocks another,
and unread and mention counts move as messages arrive and are acked on a second device."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx

from fleet import Fleet
from gateway_client import GatewayClient


class Person:
    def __init__(self, http: httpx.Client, name: str) -> None:
        self.http = http
        self.name = name
        body = http.post(
            "/api/v1/auth/register",
            json={
                "username": name,
                "email": f"{name}@example.com",
                "password": "correct horse battery",
            },
        )
        assert body.status_code == 201, body.text
        self.id: str = body.json()["user"]["id"]
        self.token: str = body.json()["access_token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=self.headers, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


REL = "/api/v1/users/@me/relationships"
DMS = "/api/v1/users/@me/channels"


async def _request_by_name(asker: Person, name: str) -> dict[str, Any]:
    """guilds learns of a new account from auth's event: ask until it has."""
    deadline = time.monotonic() + 15
    while True:
        response = asker.http.post(REL, json={"username": name}, headers=asker.headers)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 404 and time.monotonic() < deadline, response.text
        await asyncio.sleep(0.1)


async def _connect(url: str, person: Person) -> tuple[GatewayClient, dict[str, Any]]:
    client = await GatewayClient.connect(url)
    ready = await client.identify(person.token)
    return client, ready["d"]


async def _message(client: GatewayClient, message_id: str) -> dict[str, Any]:
    """The ``message.create`` of this message (the others before it are skipped)."""
    while (frame := await client.dispatch("message.create"))["d"]["message"]["id"] != message_id:
        pass
    return frame


async def test_friends_dm_live_a_group_forms_a_block_holds_and_counts_move(
    fleet: Fleet, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    ada, bo, cy = Person(http, f"ada{tag}"), Person(http, f"bo{tag}"), Person(http, f"cy{tag}")
    url = fleet.url.replace("http://", "ws://") + "/gateway"

    # Friends: ada asks by name, bo accepts.
    assert (await _request_by_name(ada, bo.name))["kind"] == "outgoing"
    assert bo.call("PUT", f"{REL}/{ada.id}", 200, json={"kind": "friend"})["kind"] == "friend"
    desktop, ada_ready = await _connect(url, ada)
    bo_gw, bo_ready = await _connect(url, bo)
    assert [(r["user"]["id"], r["kind"]) for r in bo_ready["relationships"]] == [(ada.id, "friend")]
    assert [r["status"] for r in ada_ready["relationships"]] == ["offline"]  # bo came after
    phone, _ = await _connect(url, ada)

    # A DM, live both ways.
    dm = ada.call("POST", DMS, 201, json={"recipient_ids": [bo.id]})
    assert (await bo_gw.dispatch("dm_channel.create"))["d"]["channel"]["id"] == dm["id"]
    hello = ada.call(
        "POST", f"/api/v1/channels/{dm['id']}/messages", 201, json={"content": f"hi <@{bo.id}>"}
    )
    assert (await bo_gw.dispatch("message.create"))["d"]["message"]["id"] == hello["id"]
    back = bo.call(
        "POST", f"/api/v1/channels/{dm['id']}/messages", 201, json={"content": "hey ada"}
    )
    for client in (desktop, phone):
        assert (await _message(client, back["id"]))["d"]["message"]["content"] == "hey ada"

    # A third: cy befriends ada, who opens a group DM with both.
    assert (await _request_by_name(cy, ada.name))["kind"] == "outgoing"
    ada.call("PUT", f"{REL}/{cy.id}", 200, json={"kind": "friend"})
    cy_gw, _ = await _connect(url, cy)
    group = ada.call("POST", DMS, 201, json={"recipient_ids": [bo.id, cy.id], "name": "Trio"})
    assert (await cy_gw.dispatch("dm_channel.create"))["d"]["channel"]["name"] == "Trio"
    for _ in range(2):
        cy.call(
            "POST",
            f"/api/v1/channels/{group['id']}/messages",
            201,
            json={"content": f"<@{ada.id}> look"},
        )
    cy_last = cy.call(
        "POST", f"/api/v1/channels/{group['id']}/messages", 201, json={"content": "plain"}
    )
    await _message(bo_gw, cy_last["id"])
    # The DM list: newest activity first (the group's messages are the latest).
    assert [c["id"] for c in ada.call("GET", DMS, 200)] == [group["id"], dm["id"]]
    bo.call("POST", f"/api/v1/channels/{dm['id']}/messages", 201, json={"content": "still there?"})
    deadline = time.monotonic() + 15  # guilds follows DM activity from the messages' events
    while [c["id"] for c in ada.call("GET", DMS, 200)] != [dm["id"], group["id"]]:
        assert time.monotonic() < deadline, "the DM list did not move the DM up"
        await asyncio.sleep(0.1)

    # Counts move: a fresh READY sees 2 unread mentions in the group and the DM read up to
    # bo's reply (ada never acked it: unread, no mention of her).
    laptop, fresh = await _connect(url, ada)
    states = {s["channel_id"]: s for s in fresh["read_states"]}
    assert (states[group["id"]]["unread"], states[group["id"]]["mention_count"]) == (True, 2)
    assert (states[dm["id"]]["unread"], states[dm["id"]]["mention_count"]) == (True, 0)
    # Acked on the desktop; the phone is told at once, and the count is gone.
    acked = ada.call("POST", f"/api/v1/channels/{group['id']}/messages/{cy_last['id']}/ack", 200)
    assert (acked["unread"], acked["mention_count"]) == (False, 0)
    told = (await phone.dispatch("channel.ack"))["d"]
    assert (told["channel_id"], told["message_id"], told["mention_count"]) == (
        group["id"],
        cy_last["id"],
        0,
    )
    # A mention after the ack counts again.
    cy.call(
        "POST", f"/api/v1/channels/{group['id']}/messages", 201, json={"content": f"<@{ada.id}>?"}
    )
    tablet, later = await _connect(url, ada)
    states = {s["channel_id"]: s for s in later["read_states"]}
    assert (states[group["id"]]["unread"], states[group["id"]]["mention_count"]) == (True, 1)

    # bo blocks cy: bo is told, cy is not; no new DM or request between them either way.
    assert bo.call("PUT", f"{REL}/{cy.id}", 200, json={"kind": "blocked"})["kind"] == "blocked"
    assert (await bo_gw.dispatch("relationship.update"))["d"]["relationship"]["kind"] == "blocked"
    assert "relationship.update" not in await cy_gw.types_until_ack()
    assert "relationship.remove" not in await cy_gw.types_until_ack()
    assert cy.call("POST", DMS, 403, json={"recipient_ids": [bo.id]})["code"] == "dm_refused"
    assert (
        cy.call("PUT", f"{REL}/{bo.id}", 403, json={"kind": "friend"})["code"]
        == "relationship_refused"
    )
    assert bo.call("POST", DMS, 403, json={"recipient_ids": [cy.id]})["code"] == "dm_refused"
    # bo's history of the group now marks cy's messages (his client may hide them); ada's not.
    seen = bo.call("GET", f"/api/v1/channels/{group['id']}/messages", 200)
    marked = {m["author"]["id"] for m in seen if m.get("author_blocked")}
    assert marked == {cy.id}
    assert all(m.get("author_blocked") for m in seen if m["author"]["id"] == cy.id)
    ada_seen = ada.call("GET", f"/api/v1/channels/{group['id']}/messages", 200)
    assert not [m for m in ada_seen if "author_blocked" in m]
    # Nobody outside a DM reads it, through nginx either.
    cy.call("GET", f"/api/v1/channels/{dm['id']}/messages", 404)
    # Typing in the 1:1 DM reaches ada's sessions, and not cy's (who is in the group only).
    await bo_gw.send(4, {"channel_id": dm["id"]})
    typing = await desktop.dispatch("typing.start")
    assert (typing["d"]["channel_id"], typing["d"]["user_id"]) == (dm["id"], bo.id)
    nudge = bo.call(
        "POST", f"/api/v1/channels/{group['id']}/messages", 201, json={"content": "typed"}
    )
    while (frame := await cy_gw.dispatch())["t"] != "message.create" or (
        frame["d"]["message"]["id"] != nudge["id"]
    ):
        assert not frame["t"].startswith("typing."), frame
    # Every socket closed: nginx's graceful stop waits for open WebSockets (the fleet's 25 s).
    for client in (desktop, phone, laptop, tablet, bo_gw, cy_gw):
        await client.close()
