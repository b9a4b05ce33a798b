"""Helpers for tests that need servers: this service's own and those of services built on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.users import TestUser

__all__ = ["GUILDS_SCHEMA", "Client", "create_server", "invite_and_join", "role_id", "text_channel"]

GUILDS_SCHEMA = ServiceSchema(
    "guilds", "guilds", Path(__file__).resolve().parents[2] / "migrations"
)
Client = AsyncTestClient[Any]


async def create_server(client: Client, owner: TestUser, name: str = "Guild") -> dict[str, Any]:
    response = await client.post("/api/v1/servers", json={"name": name}, headers=owner.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def text_channel(client: Client, server: dict[str, Any], viewer: TestUser) -> dict[str, Any]:
    response = await client.get(f"/api/v1/servers/{server['id']}/channels", headers=viewer.headers)
    assert response.status_code == 200, response.text
    channel: dict[str, Any] = next(c for c in response.json() if c["kind"] == "text")
    return channel


async def invite_and_join(
    client: Client, server: dict[str, Any], inviter: TestUser, *joiners: TestUser
) -> str:
    text = await text_channel(client, server, inviter)
    invite = await client.post(
        f"/api/v1/channels/{text['id']}/invites", json={}, headers=inviter.headers
    )
    assert invite.status_code == 201, invite.text
    code: str = invite.json()["code"]
    for joiner in joiners:
        joined = await client.post(f"/api/v1/invites/{code}", headers=joiner.headers)
        assert joined.status_code == 200, joined.text
    return code


async def role_id(client: Client, server: dict[str, Any], owner: TestUser, name: str) -> str:
    response = await client.get(f"/api/v1/servers/{server['id']}/roles", headers=owner.headers)
    return str(next(r["id"] for r in response.json() if r["name"] == name))
