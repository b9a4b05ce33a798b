"""Helpers for tests that need servers: this service's own and those of services built on it.

Test support, not shipped: importable as ``guilds_testing`` in every test (the pytest
``pythonpath`` setting). Suites that need guilds running import the ``guilds`` fixture into
their ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
from litestar.testing import AsyncTestClient

from harmoniq_common.ids import Snowflake
from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import ServiceApp
from harmoniq_common.testing.users import TestUser
from harmoniq_guilds.app import create_app
from harmoniq_guilds.settings import GuildsSettings

__all__ = [
    "DIRECT_ROUTES",
    "GUILDS_SCHEMA",
    "Client",
    "Crew",
    "befriend",
    "create_server",
    "give_role",
    "guilds",
    "invite_and_join",
    "join",
    "make_crew",
    "open_dm",
    "role_id",
    "text_channel",
]

GUILDS_SCHEMA = ServiceSchema(
    "guilds", "guilds", Path(__file__).resolve().parents[2] / "migrations"
)
Client = AsyncTestClient[Any]

_DMS = "/api/v1/users/@me/channels"
_REL = "/api/v1/users/@me/relationships"
# The DM and relationship routes, as the app names them: covered by their own authorization
# matrix (test_direct_authorization_matrix.py), which guilds' main matrix counts as its own.
DIRECT_ROUTES = {
    ("GET", _DMS),
    ("POST", _DMS),
    ("PATCH", _DMS + "/{channel_id:str}"),
    ("DELETE", _DMS + "/{channel_id:str}"),
    ("PUT", _DMS + "/{channel_id:str}/recipients/{user_id:str}"),
    ("DELETE", _DMS + "/{channel_id:str}/recipients/{user_id:str}"),
    ("GET", _REL),
    ("POST", _REL),
    ("PUT", _REL + "/{user_id:str}"),
    ("DELETE", _REL + "/{user_id:str}"),
    ("GET", "/api/v1/servers/{server_id:str}/privacy"),
    ("PUT", "/api/v1/servers/{server_id:str}/privacy"),
}


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
    await join(client, code, *joiners)
    return code


async def join(client: Client, code: str, *joiners: TestUser) -> None:
    for joiner in joiners:
        joined = await client.post(f"/api/v1/invites/{code}", headers=joiner.headers)
        assert joined.status_code == 200, joined.text


async def role_id(client: Client, server: dict[str, Any], owner: TestUser, name: str) -> str:
    response = await client.get(f"/api/v1/servers/{server['id']}/roles", headers=owner.headers)
    return str(next(r["id"] for r in response.json() if r["name"] == name))


async def give_role(
    client: Client, server: dict[str, Any], granter: TestUser, user: TestUser, role: str
) -> None:
    """Give ``user`` the role named (or with the id) ``role``."""
    rid = role if role.isdigit() else await role_id(client, server, granter, role)
    given = await client.put(
        f"/api/v1/servers/{server['id']}/members/{user.id}/roles/{rid}", headers=granter.headers
    )
    assert given.status_code == 204, given.text


async def befriend(client: Client, a: TestUser, b: TestUser) -> None:
    """Make ``a`` and ``b`` friends (a asks by id, b accepts)."""
    for asker, other in ((a, b), (b, a)):
        response = await client.put(
            f"/api/v1/users/@me/relationships/{other.id}",
            json={"kind": "friend"},
            headers=asker.headers,
        )
        assert response.status_code == 200, response.text
    assert response.json()["kind"] == "friend"


async def open_dm(
    client: Client, opener: TestUser, *others: TestUser, **extra: Any
) -> dict[str, Any]:
    """The DM (one other) or a new group DM (several) of ``opener`` with ``others``."""
    response = await client.post(
        "/api/v1/users/@me/channels",
        json={"recipient_ids": [str(o.id) for o in others], **extra},
        headers=opener.headers,
    )
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Crew:
    """A server with one member of each default role, and an unlimited invite to it."""

    server: dict[str, Any]
    owner: TestUser
    admin: TestUser
    moderator: TestUser
    member: TestUser
    code: str

    @property
    def id(self) -> str:
        return str(self.server["id"])

    @property
    def server_id(self) -> Snowflake:
        return Snowflake(int(self.server["id"]))

    def url(self, suffix: str = "") -> str:
        return f"/api/v1/servers/{self.id}{suffix}"


async def make_crew(client: Client, make_user: Callable[..., Awaitable[TestUser]]) -> Crew:
    owner, admin, moderator, member = [
        await make_user(name) for name in ("owner", "admin", "moderator", "member")
    ]
    server = await create_server(client, owner)
    code = await invite_and_join(client, server, owner, admin, moderator, member)
    await give_role(client, server, owner, admin, "admin")
    await give_role(client, server, owner, moderator, "moderator")
    return Crew(server, owner, admin, moderator, member, code)


@pytest_asyncio.fixture(loop_scope="session")
async def guilds(service_app: ServiceApp) -> AsyncIterator[Client]:
    """The guilds service in-process, for services that ask it about servers and access."""
    yield await service_app(create_app, GuildsSettings, GUILDS_SCHEMA)
