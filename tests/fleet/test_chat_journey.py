"""Two people chat through nginx, against the real auth, guilds and messages processes."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.databases import with_database

from fleet import Fleet


class Person:
    def __init__(self, http: httpx.Client, name: str) -> None:
        self.http = http
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
        self.headers = {"Authorization": f"Bearer {body.json()['access_token']}"}

    def call(self, method: str, path: str, expect: int, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.http.request(method, path, headers=headers, **kwargs)
        assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response.json() if response.content else None


def test_two_people_chat_in_a_server_with_a_private_channel(http: httpx.Client) -> None:
    tag = secrets.token_hex(3)
    ada, bo = Person(http, f"ada{tag}"), Person(http, f"bo{tag}")

    server = ada.call("POST", "/api/v1/servers", 201, json={"name": "Book club"})
    sid = server["id"]
    general = next(
        c for c in ada.call("GET", f"/api/v1/servers/{sid}/channels", 200) if c["kind"] == "text"
    )
    private = ada.call("POST", f"/api/v1/servers/{sid}/channels", 201, json={"name": "organisers"})
    ada.call(
        "PUT",
        f"/api/v1/channels/{private['id']}/permissions/{sid}",
        204,
        json={"target_kind": "role", "allow": 0, "deny": int(Permission.VIEW_CHANNEL)},
    )
    ada.call(
        "POST",
        f"/api/v1/channels/{private['id']}/messages",
        201,
        json={"content": "surprise party plans"},
    )

    invite = ada.call(
        "POST", f"/api/v1/channels/{general['id']}/invites", 201, json={"max_uses": 1}
    )
    preview = http.get(f"/api/v1/invites/{invite['code']}")
    assert preview.status_code == 200 and preview.json()["server"]["name"] == "Book club"
    bo.call("POST", f"/api/v1/invites/{invite['code']}", 200)

    # Bo cannot see the private channel, by listing, by reading or by searching.
    visible = [c["id"] for c in bo.call("GET", f"/api/v1/servers/{sid}/channels", 200)]
    assert general["id"] in visible and private["id"] not in visible
    bo.call("GET", f"/api/v1/channels/{private['id']}/messages", 404)
    assert bo.call("GET", f"/api/v1/servers/{sid}/messages/search?q=party", 200)["messages"] == []

    # A conversation: send, reply, react, pin, edit, delete, search.
    messages = f"/api/v1/channels/{general['id']}/messages"
    hello = ada.call("POST", messages, 201, json={"content": "Welcome! Next book: 百年孤独"})
    reply = bo.call(
        "POST",
        messages,
        201,
        json={"content": "Thanks, reading it now", "reply_to_id": hello["id"]},
    )
    assert reply["reply_to"]["author"]["id"] == ada.id
    bo.call("PUT", f"{messages}/{hello['id']}/reactions/{quote('📚')}/@me", 204)
    ada.call("PUT", f"{messages}/{hello['id']}/reactions/{quote('📚')}/@me", 204)
    ada.call("PUT", f"{messages}/{hello['id']}/pin", 204)
    bo.call("PUT", f"{messages}/{reply['id']}/pin", 403)
    edited = bo.call(
        "PATCH", f"{messages}/{reply['id']}", 200, json={"content": "Thanks, reading it tonight"}
    )
    assert edited["edited_at"] is not None
    oops = bo.call("POST", messages, 201, json={"content": "wrong channel, sorry"})
    bo.call("DELETE", f"{messages}/{oops['id']}", 204)

    page = bo.call("GET", f"{messages}?limit=10", 200)
    assert [m["id"] for m in page] == [reply["id"], hello["id"]]
    assert page[1]["reactions"] == [{"emoji": "📚", "count": 2, "me": True}] and page[1]["pinned"]
    assert [m["id"] for m in bo.call("GET", f"{messages}/pins", 200)] == [hello["id"]]
    found = bo.call("GET", f"/api/v1/servers/{sid}/messages/search?q=孤独", 200)
    assert [m["id"] for m in found["messages"]] == [hello["id"]]
    found = bo.call("GET", f"{messages}/search?q=read", 200)  # "reading" by its stem
    assert [m["id"] for m in found["messages"]] == [reply["id"]]

    # A role opens the private channel to Bo.
    role = ada.call(
        "POST", f"/api/v1/servers/{sid}/roles", 201, json={"name": "organiser", "permissions": 0}
    )
    ada.call(
        "PUT",
        f"/api/v1/channels/{private['id']}/permissions/{role['id']}",
        204,
        json={"target_kind": "role", "allow": int(Permission.VIEW_CHANNEL), "deny": 0},
    )
    bo.call("GET", f"/api/v1/channels/{private['id']}/messages", 404)
    ada.call("PUT", f"/api/v1/servers/{sid}/members/{bo.id}/roles/{role['id']}", 204)
    seen = bo.call("GET", f"/api/v1/channels/{private['id']}/messages", 200)
    assert [m["content"] for m in seen] == ["surprise party plans"]
    found = bo.call("GET", f"/api/v1/servers/{sid}/messages/search?q=party", 200)
    assert [m["content"] for m in found["messages"]] == ["surprise party plans"]

    # Kicked: refused at once; the server's audit log says who did it.
    ada.call(
        "DELETE",
        f"/api/v1/servers/{sid}/members/{bo.id}",
        204,
        headers={"X-Audit-Log-Reason": "test"},
    )
    bo.call("GET", messages, 404)
    bo.call("POST", messages, 404, json={"content": "still here?"})


def test_a_deleted_server_takes_its_messages_with_it(fleet: Fleet, http: httpx.Client) -> None:
    ada = Person(http, f"cy{secrets.token_hex(3)}")
    server = ada.call("POST", "/api/v1/servers", 201, json={"name": "Short-lived"})
    general = next(
        c
        for c in ada.call("GET", f"/api/v1/servers/{server['id']}/channels", 200)
        if c["kind"] == "text"
    )
    ada.call(
        "POST", f"/api/v1/channels/{general['id']}/messages", 201, json={"content": "soon gone"}
    )
    assert _stored_messages(fleet, server["id"]) == 1
    ada.call("DELETE", f"/api/v1/servers/{server['id']}", 204)
    ada.call("GET", f"/api/v1/channels/{general['id']}/messages", 404)
    ada.call("GET", f"/api/v1/servers/{server['id']}/messages/search?q=gone", 404)
    # Refused at once; removed from messages' table once its consumer has the event.
    deadline = time.monotonic() + 15
    while _stored_messages(fleet, server["id"]):
        assert time.monotonic() < deadline, "the server's messages were not removed"
        time.sleep(0.1)  # another process's work, seen only in its table: nothing to await


def _stored_messages(fleet: Fleet, server_id: str) -> int:
    """What messages still holds for the server (not what it shows: a search would 404)."""

    async def count() -> int:
        conn = await asyncpg.connect(with_database(fleet.infra.postgres_url, fleet.database))
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM messages.messages WHERE server_id = $1", int(server_id)
                )
            )
        finally:
            await conn.close()

    return asyncio.run(count())
