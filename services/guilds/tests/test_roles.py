"""Roles: the default roles, custom roles and their assignment, the hierarchy, no escalation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.events import RoleCreated, RoleDeleted, RoleUpdated, decode_payload
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import ALL, DEFAULT_MEMBER, DEFAULT_MODERATOR, Permission
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, Crew, give_role, join, make_crew

MakeUser = Callable[..., Awaitable[TestUser]]
P = Permission


async def _roles(client: Client, crew: Crew) -> dict[str, dict[str, Any]]:
    response = await client.get(crew.url("/roles"), headers=crew.member.headers)
    assert response.status_code == 200, response.text
    return {r["name"]: r for r in response.json()}


async def _permissions(client: Client, crew: Crew, user: TestUser) -> int:
    response = await client.get(crew.url(), headers=user.headers)
    assert response.status_code == 200, response.text
    permissions: int = response.json()["permissions"]
    return permissions


async def _member_roles(client: Client, crew: Crew, user: TestUser) -> list[str]:
    response = await client.get(crew.url(f"/members/{user.id}"), headers=crew.owner.headers)
    roles: list[str] = response.json()["roles"]
    return roles


async def test_default_roles_and_what_they_may_do(client: Client, make_user: MakeUser) -> None:
    crew = await make_crew(client, make_user)
    roles = await _roles(client, crew)
    assert {n: (r["permissions"], r["position"], r["default"]) for n, r in roles.items()} == {
        "owner": (int(ALL), 3, False),
        "admin": (int(P.ADMINISTRATOR | DEFAULT_MODERATOR), 2, False),
        "moderator": (int(DEFAULT_MODERATOR), 1, False),
        "member": (int(DEFAULT_MEMBER), 0, True),
    }
    assert roles["member"]["id"] == crew.id  # the default role's id is the server's

    # Effective server-level permissions: administrator means everything.
    assert await _permissions(client, crew, crew.owner) == int(ALL)
    assert await _permissions(client, crew, crew.admin) == int(ALL)
    assert await _permissions(client, crew, crew.moderator) == int(DEFAULT_MODERATOR)
    assert await _permissions(client, crew, crew.member) == int(DEFAULT_MEMBER)
    # Sensible bits: moderators moderate but do not configure; members only take part.
    moderation = P.KICK_MEMBERS | P.BAN_MEMBERS | P.MANAGE_MESSAGES | P.VIEW_AUDIT_LOG
    configuration = P.MANAGE_SERVER | P.MANAGE_ROLES | P.MANAGE_CHANNELS | P.ADMINISTRATOR
    assert DEFAULT_MODERATOR & moderation == moderation
    assert not DEFAULT_MODERATOR & configuration
    assert not DEFAULT_MEMBER & (moderation | configuration)
    assert DEFAULT_MEMBER & (P.VIEW_CHANNEL | P.SEND_MESSAGES) == P.VIEW_CHANNEL | P.SEND_MESSAGES

    default = crew.url(f"/roles/{crew.id}")
    deleted = await client.delete(default, headers=crew.owner.headers)
    assert (deleted.status_code, deleted.json()["code"]) == (400, "default_role")
    given = await client.put(
        crew.url(f"/members/{crew.member.id}/roles/{crew.id}"), headers=crew.owner.headers
    )
    assert (given.status_code, given.json()["code"]) == (400, "default_role")
    moved = await client.patch(default, json={"position": 2}, headers=crew.owner.headers)
    assert moved.status_code == 400
    assert await _roles(client, crew) == roles  # nothing changed


async def test_custom_role_lifecycle(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(client, make_user)
    created = await client.post(
        crew.url("/roles"),
        json={"name": "Helpers", "permissions": int(P.KICK_MEMBERS), "color": 0x3498DB},
        headers=crew.admin.headers,
    )
    assert created.status_code == 201, created.text
    helpers = created.json()
    assert (helpers["name"], helpers["position"], helpers["color"], helpers["default"]) == (
        "Helpers",
        1,
        0x3498DB,
        False,
    )
    url = crew.url(f"/roles/{helpers['id']}")

    await give_role(client, crew.server, crew.admin, crew.member, helpers["id"])
    assert await _member_roles(client, crew, crew.member) == [helpers["id"]]
    assert await _permissions(client, crew, crew.member) == int(DEFAULT_MEMBER | P.KICK_MEMBERS)

    updated = await client.patch(
        url,
        json={"name": "Wardens", "permissions": int(P.BAN_MEMBERS), "color": 0, "position": 1},
        headers=crew.admin.headers,
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["name"], updated.json()["permissions"]) == (
        "Wardens",
        int(P.BAN_MEMBERS),
    )
    assert await _permissions(client, crew, crew.member) == int(DEFAULT_MEMBER | P.BAN_MEMBERS)

    removed = await client.delete(
        crew.url(f"/members/{crew.member.id}/roles/{helpers['id']}"), headers=crew.admin.headers
    )
    assert removed.status_code == 204
    assert await _member_roles(client, crew, crew.member) == []
    assert await _permissions(client, crew, crew.member) == int(DEFAULT_MEMBER)

    await give_role(client, crew.server, crew.owner, crew.member, helpers["id"])
    assert (await client.delete(url, headers=crew.admin.headers)).status_code == 204
    assert "Wardens" not in await _roles(client, crew)
    assert await _member_roles(client, crew, crew.member) == []  # gone with the role
    assert (await client.delete(url, headers=crew.admin.headers)).status_code == 404

    subjects = Subjects(namespace)
    events = [
        decode_payload(e)
        for e in await collect_events(
            nats_client, namespace, subjects.server_event(int(crew.id), "role.>"), count=3
        )
    ]
    assert isinstance(events[0], RoleCreated)
    assert events[0].role.name == "Helpers"
    assert isinstance(events[1], RoleUpdated)
    assert events[1].role.permissions == int(P.BAN_MEMBERS)
    assert events[2] == RoleDeleted(server_id=crew.server_id, role_id=Snowflake(helpers["id"]))


async def test_the_hierarchy_and_no_escalation(client: Client, make_user: MakeUser) -> None:
    crew = await make_crew(client, make_user)
    manager, plain = await make_user("manager"), await make_user("plain")
    await join(client, crew.code, manager, plain)
    # A manager at the admin's height (2), with MANAGE_ROLES and KICK_MEMBERS but no BAN.
    made = await client.post(
        crew.url("/roles"),
        json={"name": "Managers", "permissions": int(P.MANAGE_ROLES | P.KICK_MEMBERS)},
        headers=crew.owner.headers,
    )
    managers = made.json()
    raised = await client.patch(
        crew.url(f"/roles/{managers['id']}"), json={"position": 2}, headers=crew.owner.headers
    )
    assert raised.status_code == 200, raised.text
    await give_role(client, crew.server, crew.owner, manager, managers["id"])
    roles = await _roles(client, crew)

    async def status(method: str, path: str, body: Any = None) -> tuple[int, str]:
        response = await client.request(method, crew.url(path), json=body, headers=manager.headers)
        return response.status_code, response.json()["code"] if response.status_code >= 400 else ""

    escalation = (400, "permission_escalation")
    hierarchy = (403, "role_hierarchy")
    # Creating: only bits the manager has.
    assert await status("POST", "/roles", {"name": "x", "permissions": int(P.BAN_MEMBERS)}) == (
        escalation
    )
    assert await status("POST", "/roles", {"name": "x", "permissions": int(ALL)}) == escalation
    low = await client.post(
        crew.url("/roles"),
        json={"name": "Low", "permissions": int(P.SEND_MESSAGES)},
        headers=manager.headers,
    )
    assert low.status_code == 201
    low_id = low.json()["id"]
    assert low.json()["position"] == 1

    # Updating: adding a missing bit is refused; keeping or removing the role's bits is not.
    assert await status("PATCH", f"/roles/{low_id}", {"permissions": int(P.KICK_MEMBERS)}) == (
        200,
        "",
    )
    assert await status("PATCH", f"/roles/{low_id}", {"permissions": int(P.BAN_MEMBERS)}) == (
        escalation
    )
    moderator = roles["moderator"]
    fewer = moderator["permissions"] & ~int(P.MANAGE_MESSAGES)  # still has BAN_MEMBERS
    assert await status("PATCH", f"/roles/{moderator['id']}", {"permissions": fewer}) == (200, "")
    assert await status("PATCH", f"/roles/{moderator['id']}", {"name": "mods"}) == (200, "")

    # The hierarchy: nothing at or above the manager's own highest role (2).
    for name in ("admin", "owner"):
        assert await status("PATCH", f"/roles/{roles[name]['id']}", {"name": "x"}) == hierarchy
        assert await status("DELETE", f"/roles/{roles[name]['id']}") == hierarchy
        assert await status("PUT", f"/members/{plain.id}/roles/{roles[name]['id']}") == hierarchy
    assert await status("PATCH", f"/roles/{managers['id']}", {"name": "x"}) == hierarchy
    assert await status("PATCH", f"/roles/{low_id}", {"position": 2}) == hierarchy
    assert await status("PATCH", f"/roles/{low_id}", {"position": 1}) == (200, "")
    # The admin is at the same height as the managers' role: ties do not outrank.
    tie = await client.patch(
        crew.url(f"/roles/{managers['id']}"), json={"name": "x"}, headers=crew.admin.headers
    )
    assert tie.status_code == 403

    # Assigning a role hands out its bits: the moderator role has BAN_MEMBERS, the manager not.
    assert await status("PUT", f"/members/{plain.id}/roles/{moderator['id']}") == escalation
    assert await status("PUT", f"/members/{plain.id}/roles/{low_id}") == (204, "")
    assert await status("PUT", f"/members/{manager.id}/roles/{low_id}") == (204, "")
    assert await status("DELETE", f"/members/{plain.id}/roles/{low_id}") == (204, "")
    assert await status("DELETE", f"/roles/{low_id}") == (204, "")

    # A member without MANAGE_ROLES manages nothing.
    refused = await client.post(crew.url("/roles"), json={"name": "x"}, headers=plain.headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "missing_permission")
    # The owner is above every rule.
    for_owner = await client.patch(
        crew.url(f"/roles/{managers['id']}"),
        json={"permissions": int(ALL)},
        headers=crew.owner.headers,
    )
    assert for_owner.status_code == 200
    final = await _roles(client, crew)
    assert final["owner"] == roles["owner"]
    assert final["admin"] == roles["admin"]
    assert final["mods"]["permissions"] == fewer
    assert "Low" not in final
