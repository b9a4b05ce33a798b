"""Channels: create, list, read, update, delete, reorder; overwrites; private channels; explain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.events import ChannelCreated, ChannelDeleted, ChannelUpdated, decode_payload
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import (
    DEFAULT_MEMBER,
    Overwrite,
    Permission,
    RoleGrant,
    channel_permissions,
)
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, Crew, create_server, give_role, join, make_crew

MakeUser = Callable[..., Awaitable[TestUser]]
P = Permission


async def _create(client: Client, crew: Crew, user: TestUser, **body: Any) -> dict[str, Any]:
    response = await client.post(crew.url("/channels"), json=body, headers=user.headers)
    assert response.status_code == 201, response.text
    channel: dict[str, Any] = response.json()
    return channel


async def _listed(client: Client, crew: Crew, user: TestUser) -> list[str]:
    response = await client.get(crew.url("/channels"), headers=user.headers)
    assert response.status_code == 200, response.text
    return [c["name"] for c in response.json()]


async def _overwrite(
    client: Client, channel_id: str, actor: TestUser, target: str, kind: str, **bits: int
) -> int:
    response = await client.put(
        f"/api/v1/channels/{channel_id}/permissions/{target}",
        json={"target_kind": kind, **bits},
        headers=actor.headers,
    )
    return response.status_code


async def test_channel_crud_reorder_and_events(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(client, make_user)
    elsewhere = await create_server(client, crew.member, "Elsewhere")
    foreign_category = (
        await client.post(
            f"/api/v1/servers/{elsewhere['id']}/channels",
            json={"name": "theirs", "kind": "category"},
            headers=crew.member.headers,
        )
    ).json()

    info = await _create(client, crew, crew.admin, name="Info", kind="category")
    rules = await _create(
        client, crew, crew.admin, name="rules", topic="Read me", parent_id=info["id"]
    )
    lounge = await _create(client, crew, crew.owner, name="Lounge", kind="voice")
    assert (info["kind"], rules["kind"], lounge["kind"]) == ("category", "text", "voice")
    assert (rules["parent_id"], rules["topic"], rules["position"]) == (info["id"], "Read me", 3)
    assert await _listed(client, crew, crew.member) == [
        "general",
        "General",
        "Info",
        "rules",
        "Lounge",
    ]

    for body in (
        {"name": "sub", "kind": "category", "parent_id": info["id"]},  # no nested categories
        {"name": "x", "parent_id": rules["id"]},  # the parent must be a category
        {"name": "x", "parent_id": foreign_category["id"]},  # of this server
        {"name": "x", "kind": "forum"},
    ):
        refused = await client.post(crew.url("/channels"), json=body, headers=crew.owner.headers)
        assert refused.status_code == 400, body
    for user in (crew.moderator, crew.member):
        refused = await client.post(crew.url("/channels"), json={"name": "x"}, headers=user.headers)
        assert refused.status_code == 403

    detail = await client.get(f"/api/v1/channels/{rules['id']}", headers=crew.member.headers)
    assert detail.status_code == 200
    assert detail.json()["permissions"] == int(DEFAULT_MEMBER)
    assert detail.json()["name"] == "rules"

    url = f"/api/v1/channels/{rules['id']}"
    assert (
        await client.patch(url, json={"name": "x"}, headers=crew.member.headers)
    ).status_code == 403
    changed = await client.patch(
        url,
        json={"name": "the-rules", "topic": None, "parent_id": None},
        headers=crew.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["topic"], changed.json()["parent_id"]) == (
        "the-rules",
        None,
        None,
    )
    moved = await client.patch(url, json={"parent_id": info["id"]}, headers=crew.admin.headers)
    assert moved.json()["parent_id"] == info["id"]
    refused = await client.patch(
        f"/api/v1/channels/{info['id']}", json={"parent_id": info["id"]}, headers=crew.owner.headers
    )
    assert refused.status_code == 400

    # Reorder: all or nothing.
    positions = [{"id": lounge["id"], "position": 0}, {"id": info["id"], "position": 1}]
    assert (
        await client.patch(
            crew.url("/channels"),
            json=[*positions, {"id": foreign_category["id"], "position": 2}],
            headers=crew.owner.headers,
        )
    ).status_code == 400
    assert (await _listed(client, crew, crew.member))[0] == "general"
    reordered = await client.patch(
        crew.url("/channels"), json=positions, headers=crew.owner.headers
    )
    assert reordered.status_code == 204
    assert (await _listed(client, crew, crew.member))[:2] == ["general", "Lounge"]  # ties by id

    # Deleting a category keeps its channels, without a parent.
    assert (
        await client.delete(f"/api/v1/channels/{info['id']}", headers=crew.member.headers)
    ).status_code == 403
    deleted = await client.delete(f"/api/v1/channels/{info['id']}", headers=crew.admin.headers)
    assert deleted.status_code == 204
    assert (
        await client.get(f"/api/v1/channels/{info['id']}", headers=crew.owner.headers)
    ).status_code == 404
    orphan = (await client.get(url, headers=crew.member.headers)).json()
    assert orphan["parent_id"] is None

    subjects = Subjects(namespace)
    server = int(crew.id)
    created = [
        decode_payload(e)
        for e in await collect_events(
            nats_client, namespace, subjects.server_event(server, "channel.created"), count=3
        )
    ]
    assert [c.channel.name for c in created if isinstance(c, ChannelCreated)] == [
        "Info",
        "rules",
        "Lounge",
    ]
    [gone] = await collect_events(
        nats_client, namespace, subjects.server_event(server, "channel.deleted"), count=1
    )
    assert decode_payload(gone) == ChannelDeleted(
        server_id=crew.server_id, channel_id=Snowflake(info["id"])
    )
    updates = [
        decode_payload(e)
        for e in await collect_events(
            nats_client, namespace, subjects.server_event(server, "channel.updated"), count=5
        )
    ]
    # Two edits of rules, two reordered channels, then rules losing its deleted parent.
    last = updates[-1]
    assert isinstance(last, ChannelUpdated)
    assert (last.channel.id, last.channel.parent_id) == (int(rules["id"]), None)


async def test_a_private_channel_is_invisible_without_its_role(
    client: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(client, make_user)
    staff_room = await _create(client, crew, crew.owner, name="staff-room")
    cid = staff_room["id"]
    staff = (
        await client.post(crew.url("/roles"), json={"name": "Staff"}, headers=crew.owner.headers)
    ).json()
    view = int(P.VIEW_CHANNEL)
    assert await _overwrite(client, cid, crew.owner, crew.id, "role", deny=view) == 204
    assert await _overwrite(client, cid, crew.owner, staff["id"], "role", allow=view) == 204

    async def sees(user: TestUser) -> bool:
        listed = "staff-room" in await _listed(client, crew, user)
        got = await client.get(f"/api/v1/channels/{cid}", headers=user.headers)
        assert got.status_code in (200, 404)
        assert listed == (got.status_code == 200), "the list and the channel disagree"
        return listed

    assert await sees(crew.owner)
    assert await sees(crew.admin)  # administrators see everything
    assert not await sees(crew.moderator)
    assert not await sees(crew.member)
    # Hidden means 404 for every door, not 403.
    for method, path, body in (
        ("PATCH", f"/api/v1/channels/{cid}", {"name": "x"}),
        ("DELETE", f"/api/v1/channels/{cid}", None),
        ("POST", f"/api/v1/channels/{cid}/invites", {}),
        ("GET", f"/api/v1/channels/{cid}/permissions/explain", None),
    ):
        response = await client.request(method, path, json=body, headers=crew.member.headers)
        assert (response.status_code, response.json()["code"]) == (404, "unknown_channel"), path

    await give_role(client, crew.server, crew.owner, crew.member, staff["id"])
    assert await sees(crew.member)
    # A member's own overwrite wins over their roles'.
    assert await _overwrite(client, cid, crew.owner, str(crew.member.id), "member", deny=view) == (
        204
    )
    assert not await sees(crew.member)
    removed = await client.delete(
        f"/api/v1/channels/{cid}/permissions/{crew.member.id}", headers=crew.owner.headers
    )
    assert removed.status_code == 204
    assert await sees(crew.member)
    taken = await client.delete(
        crew.url(f"/members/{crew.member.id}/roles/{staff['id']}"), headers=crew.owner.headers
    )
    assert taken.status_code == 204
    assert not await sees(crew.member)
    # Or one member alone, by a member overwrite.
    assert (
        await _overwrite(client, cid, crew.owner, str(crew.moderator.id), "member", allow=view)
        == 204
    )
    assert await sees(crew.moderator)
    assert not await sees(crew.member)


async def test_explain_shows_every_step_and_matches_the_computation(
    client: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(client, make_user)
    channel = await _create(client, crew, crew.owner, name="announcements")
    cid = channel["id"]
    speakers = (
        await client.post(
            crew.url("/roles"),
            json={"name": "Speakers", "permissions": int(P.MANAGE_MESSAGES)},
            headers=crew.owner.headers,
        )
    ).json()
    await give_role(client, crew.server, crew.owner, crew.member, speakers["id"])
    send = int(P.SEND_MESSAGES)
    assert await _overwrite(client, cid, crew.owner, crew.id, "role", deny=send) == 204
    assert await _overwrite(client, cid, crew.owner, speakers["id"], "role", allow=send) == 204
    reactions = int(P.ADD_REACTIONS)
    assert (
        await _overwrite(client, cid, crew.owner, str(crew.member.id), "member", deny=reactions)
        == 204
    )

    explained = await client.get(
        f"/api/v1/channels/{cid}/permissions/explain?user_id={crew.member.id}",
        headers=crew.admin.headers,
    )
    assert explained.status_code == 200, explained.text
    body = explained.json()
    expected = channel_permissions(
        user_id=crew.member.id,
        is_owner=False,
        default_role=RoleGrant(int(crew.id), int(DEFAULT_MEMBER)),
        member_roles=[RoleGrant(int(speakers["id"]), int(P.MANAGE_MESSAGES))],
        overwrites=[
            Overwrite("role", int(crew.id), deny=send),
            Overwrite("role", int(speakers["id"]), allow=send),
            Overwrite("member", crew.member.id, deny=reactions),
        ],
        channel_kind="text",
    )
    assert expected == int((DEFAULT_MEMBER | P.MANAGE_MESSAGES) & ~P.ADD_REACTIONS)
    assert (body["user_id"], body["channel_id"], body["permissions"]) == (
        str(crew.member.id),
        cid,
        expected,
    )
    assert body["granted"] == [p.name for p in Permission if p & expected]
    assert [(s["what"], s["allow"], s["deny"]) for s in body["steps"]] == [
        ("default role", 0, 0),
        (f"role {speakers['id']}", int(P.MANAGE_MESSAGES), 0),
        ("channel overwrite for the default role", 0, send),
        ("channel overwrites for the member's roles", send, 0),
        ("channel overwrite for the member", 0, reactions),
    ]
    assert body["steps"][-1]["permissions"] == expected
    # The same answer as the channel itself gives the member.
    got = await client.get(f"/api/v1/channels/{cid}", headers=crew.member.headers)
    assert got.json()["permissions"] == expected

    # Without Speakers, the implicit rule takes what only makes sense when sending.
    mine = await client.get(
        f"/api/v1/channels/{cid}/permissions/explain", headers=crew.moderator.headers
    )
    steps = mine.json()["steps"]
    assert steps[-1]["what"] == "implicit: cannot send, so cannot mention, attach or embed"
    assert not mine.json()["permissions"] & int(P.SEND_MESSAGES | P.ATTACH_FILES | P.EMBED_LINKS)
    # Others' permissions are for MANAGE_ROLES only; strangers do not learn of the channel.
    refused = await client.get(
        f"/api/v1/channels/{cid}/permissions/explain?user_id={crew.admin.id}",
        headers=crew.moderator.headers,
    )
    assert refused.status_code == 403
    stranger = await make_user("stranger")
    assert (
        await client.get(f"/api/v1/channels/{cid}/permissions/explain", headers=stranger.headers)
    ).status_code == 404
    assert (
        await client.get(
            f"/api/v1/channels/{cid}/permissions/explain?user_id={stranger.id}",
            headers=crew.owner.headers,
        )
    ).status_code == 404
    owner = await client.get(
        f"/api/v1/channels/{cid}/permissions/explain", headers=crew.owner.headers
    )
    assert [s["what"] for s in owner.json()["steps"]] == ["server owner: every permission"]


async def test_who_may_write_overwrites(client: Client, make_user: MakeUser) -> None:
    crew = await make_crew(client, make_user)
    manager = await make_user("manager")
    await join(client, crew.code, manager)
    managers = (
        await client.post(
            crew.url("/roles"),
            json={"name": "Managers", "permissions": int(P.MANAGE_ROLES)},
            headers=crew.owner.headers,
        )
    ).json()
    raised = await client.patch(
        crew.url(f"/roles/{managers['id']}"), json={"position": 2}, headers=crew.owner.headers
    )
    assert raised.status_code == 200
    await give_role(client, crew.server, crew.owner, manager, managers["id"])
    roles = {
        r["name"]: r["id"]
        for r in (await client.get(crew.url("/roles"), headers=crew.owner.headers)).json()
    }
    channel = await _create(client, crew, crew.owner, name="quiet")
    cid = channel["id"]
    send = int(P.SEND_MESSAGES)
    assert await _overwrite(client, cid, crew.owner, crew.id, "role", deny=send) == 204
    assert await _overwrite(client, cid, crew.owner, roles["admin"], "role", deny=send) == 204

    async def attempt(target: str, kind: str, **bits: int) -> tuple[int, str]:
        response = await client.put(
            f"/api/v1/channels/{cid}/permissions/{target}",
            json={"target_kind": kind, **bits},
            headers=manager.headers,
        )
        return response.status_code, response.json()["code"] if response.content else ""

    # MANAGE_ROLES is enough (MANAGE_CHANNELS is not needed) for roles below the manager.
    assert await attempt(roles["moderator"], "role", deny=int(P.ADD_REACTIONS)) == (204, "")
    assert await attempt(str(crew.member.id), "member", deny=int(P.ADD_REACTIONS)) == (204, "")
    # Not for the admin role (at the manager's height) nor for members above them.
    assert await attempt(roles["admin"], "role", allow=send) == (403, "role_hierarchy")
    assert await attempt(str(crew.admin.id), "member", deny=send) == (403, "role_hierarchy")
    removed = await client.delete(
        f"/api/v1/channels/{cid}/permissions/{roles['admin']}", headers=manager.headers
    )
    assert removed.status_code == 403
    # Only bits the manager holds in this channel: not BAN, and not SEND, denied here to all.
    escalation = (400, "permission_escalation")
    assert await attempt(roles["moderator"], "role", allow=int(P.BAN_MEMBERS)) == escalation
    assert await attempt(str(manager.id), "member", allow=send) == escalation
    assert await attempt(managers["id"], "role", allow=send) == (403, "role_hierarchy")
    removed = await client.delete(
        f"/api/v1/channels/{cid}/permissions/{crew.id}", headers=manager.headers
    )
    assert (removed.status_code, removed.json()["code"]) == escalation
    # Targets must exist in this server; bits must make sense.
    assert (await attempt("42", "role", deny=send))[0] == 400
    assert (await attempt("42", "member", deny=send))[0] == 400
    assert (await attempt(roles["moderator"], "role", allow=send, deny=send))[0] == 400
    assert (await attempt(roles["moderator"], "everyone", deny=send))[0] == 400
    unknown = await client.delete(f"/api/v1/channels/{cid}/permissions/42", headers=manager.headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_overwrite")
    for user in (crew.member, crew.moderator):
        refused = await client.put(
            f"/api/v1/channels/{cid}/permissions/{crew.id}",
            json={"target_kind": "role", "deny": send},
            headers=user.headers,
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "missing_permission")

    overwrites = (await client.get(f"/api/v1/channels/{cid}", headers=crew.owner.headers)).json()[
        "overwrites"
    ]
    assert {(o["target_id"], o["allow"], o["deny"]) for o in overwrites} == {
        (crew.id, 0, send),
        (roles["admin"], 0, send),
        (roles["moderator"], 0, int(P.ADD_REACTIONS)),
        (str(crew.member.id), 0, int(P.ADD_REACTIONS)),
    }
