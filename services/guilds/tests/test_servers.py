"""Servers: create with defaults, read, list, update, delete, transfer, leave."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from harmoniq_common.events import ServerCreated, ServerDeleted, decode_payload
from harmoniq_common.permissions import ALL, DEFAULT_MEMBER
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser as User

from guilds_testing import Client, create_server, invite_and_join

MakeUser = Callable[..., Awaitable[User]]


async def test_a_new_server_has_the_default_roles_channels_and_its_owner(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner = await make_user("olga")
    server = await create_server(client, owner, "Olga's place")
    assert server["owner_id"] == str(owner.id)

    detail = (await client.get(f"/api/v1/servers/{server['id']}", headers=owner.headers)).json()
    assert detail["member_count"] == 1
    assert detail["permissions"] == int(ALL)

    roles = (
        await client.get(f"/api/v1/servers/{server['id']}/roles", headers=owner.headers)
    ).json()
    assert [r["name"] for r in roles] == ["owner", "admin", "moderator", "member"]
    default = roles[-1]
    assert default["id"] == server["id"]
    assert default["default"] is True
    assert default["permissions"] == int(DEFAULT_MEMBER)

    channels = (
        await client.get(f"/api/v1/servers/{server['id']}/channels", headers=owner.headers)
    ).json()
    assert [(c["kind"], c["name"]) for c in channels] == [("text", "general"), ("voice", "General")]
    members = (
        await client.get(f"/api/v1/servers/{server['id']}/members", headers=owner.headers)
    ).json()
    assert [m["user"]["id"] for m in members] == [str(owner.id)]
    assert members[0]["roles"] == [roles[0]["id"]]

    mine = (await client.get("/api/v1/servers", headers=owner.headers)).json()
    assert [s["id"] for s in mine] == [server["id"]]

    [envelope] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.server.created", count=1
    )
    created = decode_payload(envelope)
    assert isinstance(created, ServerCreated)
    assert len(created.roles) == 4
    assert len(created.channels) == 2


async def test_bad_server_input_is_400(client: Client, make_user: MakeUser) -> None:
    owner = await make_user()
    for body in (
        {},
        {"name": ""},
        {"name": "x" * 101},
        {"name": "ok", "extra": 1},
        {"name": "tab\there"},
        {"name": "ok", "icon_id": "../etc/passwd"},
    ):
        response = await client.post("/api/v1/servers", json=body, headers=owner.headers)
        assert response.status_code == 400, body
    assert (await client.get("/api/v1/servers", headers=owner.headers)).json() == []


async def test_update_needs_manage_server_and_non_members_see_404(
    client: Client, make_user: MakeUser
) -> None:
    owner, member, stranger = await make_user(), await make_user(), await make_user()
    server = await create_server(client, owner)
    await invite_and_join(client, server, owner, member)
    url = f"/api/v1/servers/{server['id']}"
    assert (
        await client.patch(url, json={"name": "New"}, headers=member.headers)
    ).status_code == 403
    assert (
        await client.patch(url, json={"name": "New"}, headers=stranger.headers)
    ).status_code == 404
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    updated = await client.patch(
        url, json={"name": "New", "description": "hi"}, headers=owner.headers
    )
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["description"]) == ("New", "hi")
    cleared = await client.patch(url, json={"description": None}, headers=owner.headers)
    assert cleared.json()["description"] is None
    assert cleared.json()["name"] == "New"


async def test_only_the_owner_deletes_and_it_is_announced(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, member = await make_user(), await make_user()
    server = await create_server(client, owner)
    await invite_and_join(client, server, owner, member)
    url = f"/api/v1/servers/{server['id']}"
    assert (await client.delete(url, headers=member.headers)).status_code == 403
    assert (await client.delete(url, headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    [envelope] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.server.deleted", count=1
    )
    assert isinstance(decode_payload(envelope), ServerDeleted)


async def test_transfer_and_leave(client: Client, make_user: MakeUser) -> None:
    owner, member = await make_user(), await make_user()
    server = await create_server(client, owner)
    await invite_and_join(client, server, owner, member)
    url = f"/api/v1/servers/{server['id']}"
    leave = await client.delete(f"{url}/members/@me", headers=owner.headers)
    assert leave.status_code == 400
    assert leave.json()["code"] == "owner_cannot_leave"
    assert (
        await client.post(
            f"{url}/transfer", json={"owner_id": str(member.id)}, headers=member.headers
        )
    ).status_code == 403
    moved = await client.post(
        f"{url}/transfer", json={"owner_id": str(member.id)}, headers=owner.headers
    )
    assert moved.status_code == 200
    assert moved.json()["owner_id"] == str(member.id)
    assert (await client.delete(f"{url}/members/@me", headers=owner.headers)).status_code == 204
    assert (await client.get(url, headers=owner.headers)).status_code == 404
    detail: dict[str, Any] = (await client.get(url, headers=member.headers)).json()
    assert detail["member_count"] == 1
