"""Bad input gets a 4xx with the error body and changes nothing; unknown ids get 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.permissions import ALL, Permission
from harmoniq_common.testing.routes import id_parameter_problems
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, Crew, create_server, make_crew, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]
SEND = int(Permission.SEND_MESSAGES)


async def _snapshot(client: Client, crew: Crew) -> dict[str, Any]:
    """Everything the owner can read about the server."""
    snapshot: dict[str, Any] = {}
    for part in ("", "/channels", "/roles", "/members", "/bans", "/invites", "/audit-log"):
        response = await client.get(crew.url(part), headers=crew.owner.headers)
        assert response.status_code == 200, response.text
        snapshot[part] = response.json()
    snapshot["servers"] = (await client.get("/api/v1/servers", headers=crew.owner.headers)).json()
    return snapshot


async def test_bad_input_is_refused_and_changes_nothing(
    client: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(client, make_user)
    elsewhere = await create_server(client, crew.member, "Elsewhere")
    foreign = (await text_channel(client, elsewhere, crew.member))["id"]
    general = (await text_channel(client, crew.server, crew.owner))["id"]
    moderator = next(
        r["id"]
        for r in (await client.get(crew.url("/roles"), headers=crew.owner.headers)).json()
        if r["name"] == "moderator"
    )
    s, c, m = crew.url(), f"/api/v1/channels/{general}", crew.member.id
    too_long = "x" * 101
    cases: list[tuple[str, str, Any]] = [
        ("POST", "/api/v1/servers", {"name": too_long}),
        ("POST", "/api/v1/servers", ["not", "an", "object"]),
        ("PATCH", s, {"name": ""}),
        ("PATCH", s, {"name": too_long}),
        ("PATCH", s, {"name": 5}),
        ("PATCH", s, {"name": "line\nbreak"}),
        ("PATCH", s, {"description": "x" * 1001}),
        ("PATCH", s, {"icon_id": "../../etc/passwd"}),
        ("PATCH", s, {"owner_id": str(m)}),  # unknown field: ownership moves by transfer only
        ("POST", s + "/transfer", {"owner_id": "abc"}),
        ("POST", s + "/transfer", {"owner_id": "42"}),  # not a member
        ("POST", s + "/transfer", {}),
        ("POST", s + "/join", {"code": "not a code"}),
        ("POST", s + "/join", {"code": ""}),
        ("POST", s + "/channels", {"name": too_long}),
        ("POST", s + "/channels", {"name": "x", "kind": "forum"}),
        ("POST", s + "/channels", {"name": "x", "topic": "x" * 1025}),
        ("POST", s + "/channels", {"name": "x", "parent_id": "nope"}),
        ("POST", s + "/channels", {"name": "x", "parent_id": general}),  # not a category
        ("POST", s + "/channels", {"name": "x", "position": 1}),
        ("PATCH", s + "/channels", [{"id": "abc", "position": 1}]),
        ("PATCH", s + "/channels", [{"id": general, "position": -1}]),
        ("PATCH", s + "/channels", [{"id": foreign, "position": 0}]),
        ("PATCH", s + "/channels", {"id": general, "position": 0}),
        (
            "PATCH",
            s + "/channels",
            [{"id": general, "position": 0}, {"id": general, "position": 1}],
        ),
        ("PATCH", c, {"name": ""}),
        ("PATCH", c, {"kind": "voice"}),  # a channel's kind is for ever
        ("PATCH", c, {"parent_id": general}),
        ("PUT", f"{c}/permissions/{crew.id}", {"target_kind": "everyone", "deny": SEND}),
        ("PUT", f"{c}/permissions/{crew.id}", {"target_kind": "role", "deny": -1}),
        ("PUT", f"{c}/permissions/{crew.id}", {"target_kind": "role", "allow": 1 << 50}),
        ("PUT", f"{c}/permissions/{crew.id}", {"target_kind": "role", "allow": 1 << 30}),
        ("PUT", f"{c}/permissions/{crew.id}", {"target_kind": "role", "allow": 3, "deny": 2}),
        ("PUT", f"{c}/permissions/{crew.id}", {"deny": SEND}),
        ("PUT", f"{c}/permissions/{m}", {"target_kind": "role", "deny": SEND}),  # not a role
        ("POST", f"{c}/invites", {"max_uses": 0}),
        ("POST", f"{c}/invites", {"max_uses": 1001}),
        ("POST", f"{c}/invites", {"max_age_seconds": 59}),
        ("POST", f"{c}/invites", {"max_age_seconds": 30 * 86_400 + 1}),
        ("POST", f"{c}/invites", {"temporary": "yes"}),
        ("POST", f"{c}/invites", {"channel_id": general}),
        ("POST", s + "/roles", {"name": too_long}),
        ("POST", s + "/roles", {"name": "x", "permissions": int(ALL) + 1}),
        ("POST", s + "/roles", {"name": "x", "permissions": 1 << 35}),  # between the bits
        ("POST", s + "/roles", {"name": "x", "color": 0x1000000}),
        ("POST", s + "/roles", {"name": "x", "hoist": True}),
        ("PATCH", s + f"/roles/{moderator}", {"position": 0}),
        ("PATCH", s + f"/roles/{moderator}", {"permissions": "eight"}),
        ("PATCH", s + "/members/@me", {}),
        ("PATCH", s + "/members/@me", {"nickname": "x" * 33}),
        ("PATCH", s + "/members/@me", {"nickname": ""}),
        ("PATCH", s + "/members/@me", {"nickname": "tab\there"}),
        ("PUT", s + f"/bans/{m}", {"delete_message_seconds": 604_801}),
        ("PUT", s + f"/bans/{m}", {"reason": "x" * 513}),
        ("PUT", s + f"/bans/{m}", {"delete": True}),
        ("GET", s + "/members?limit=1001", None),
        ("GET", s + "/members?after=-1", None),
        ("GET", s + "/audit-log?limit=101", None),
        ("GET", s + "/audit-log?before=soon", None),
        ("GET", s + "/audit-log?actor_id=me", None),
        ("GET", f"{c}/permissions/explain?user_id=me", None),
    ]
    # Ids that are not ids, anywhere a path takes one.
    cases += [
        ("GET", "/api/v1/servers/abc", None),
        ("GET", "/api/v1/servers/12345678901234567890", None),
        ("GET", "/api/v1/channels/1.5", None),
        ("GET", s + "/members/someone", None),
        ("PATCH", s + "/roles/admin", {"name": "x"}),
        ("PUT", s + "/bans/@me", {}),
        ("DELETE", f"{c}/permissions/everyone", None),
        ("GET", "/api/v1/invites/has-dash", None),
    ]
    before = await _snapshot(client, crew)
    mismatches = []
    for method, path, body in cases:
        response = await client.request(method, path, json=body, headers=crew.owner.headers)
        error = response.json() if response.status_code == 400 else {}
        if response.status_code != 400 or not (
            error.get("code") and error.get("message") and isinstance(error.get("errors"), list)
        ):
            mismatches.append(f"{method} {path} {body!r:.80}: {response.status_code} {error}")
    assert mismatches == []
    # A reorder is bounded before anything is looked up.
    many = [{"id": str(i + 1), "position": 0} for i in range(501)]
    response = await client.patch(s + "/channels", json=many, headers=crew.owner.headers)
    assert response.status_code == 400
    assert response.json()["message"] == "at most 500 channels at once"
    assert await _snapshot(client, crew) == before


async def test_unknown_ids_are_404(client: Client, make_user: MakeUser) -> None:
    crew = await make_crew(client, make_user)
    general = (await text_channel(client, crew.server, crew.owner))["id"]
    s, c, m = crew.url(), f"/api/v1/channels/{general}", crew.member.id
    moderator = next(
        r["id"]
        for r in (await client.get(crew.url("/roles"), headers=crew.owner.headers)).json()
        if r["name"] == "moderator"
    )
    nobody = "42"
    cases: list[tuple[str, str, Any, str]] = [
        ("GET", f"/api/v1/servers/{nobody}", None, "unknown_server"),
        ("PATCH", f"/api/v1/servers/{nobody}", {"name": "x"}, "unknown_server"),
        ("GET", f"/api/v1/servers/{nobody}/channels", None, "unknown_server"),
        ("POST", f"/api/v1/servers/{nobody}/join", {"code": crew.code}, "unknown_invite"),
        ("GET", f"/api/v1/channels/{nobody}", None, "unknown_channel"),
        ("PATCH", f"/api/v1/channels/{nobody}", {"name": "x"}, "unknown_channel"),
        ("POST", f"/api/v1/channels/{nobody}/invites", {}, "unknown_channel"),
        ("GET", f"{s}/members/{nobody}", None, "unknown_member"),
        ("PATCH", f"{s}/members/{nobody}", {"nickname": "x"}, "unknown_member"),
        ("DELETE", f"{s}/members/{nobody}", None, "unknown_member"),
        ("PUT", f"{s}/members/{nobody}/roles/{moderator}", None, "unknown_member"),
        ("PUT", f"{s}/members/{m}/roles/{nobody}", None, "unknown_role"),
        ("PATCH", f"{s}/roles/{nobody}", {"name": "x"}, "unknown_role"),
        ("DELETE", f"{s}/roles/{nobody}", None, "unknown_role"),
        ("DELETE", f"{s}/bans/{nobody}", None, "unknown_ban"),
        ("DELETE", f"{c}/permissions/{nobody}", None, "unknown_overwrite"),
        ("GET", f"{c}/permissions/explain?user_id={nobody}", None, "unknown_member"),
        ("GET", "/api/v1/invites/Nope1234Nope", None, "unknown_invite"),
        ("POST", "/api/v1/invites/Nope1234Nope", None, "unknown_invite"),
        ("DELETE", "/api/v1/invites/Nope1234Nope", None, "unknown_invite"),
        ("GET", "/api/v1/nothing-here", None, "not_found"),
    ]
    before = await _snapshot(client, crew)
    mismatches = []
    for method, path, body, code in cases:
        response = await client.request(method, path, json=body, headers=crew.owner.headers)
        if (response.status_code, response.json().get("code")) != (404, code):
            mismatches.append(f"{method} {path}: {response.status_code} {response.text[:100]}")
    assert mismatches == []
    assert await _snapshot(client, crew) == before


async def test_every_id_parameter_is_typed(client: Client, make_user: MakeUser) -> None:
    """A snowflake in OpenAPI, and ``x`` in its place a 400 naming it (path and query)."""
    user = await make_user()
    assert await id_parameter_problems(client, user.headers) == []
