"""Every guilds endpoint x every kind of caller, with the expected status: a leak cannot hide.

Callers: the owner, an admin, a moderator, a plain member, a non-member, a banned user, an
anonymous caller and the owner of another server. Whatever a row acts on (a member to kick, a
role to delete, a channel, an invite, a ban) is made fresh for each caller, so one caller's
success cannot change the next caller's answer; rows that change the callers themselves (leave,
join, transfer) put things back afterwards. Non-members get 404 for anything inside the server
(its existence is not theirs to learn), anonymous callers 401, except the invite preview.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.users import TestUser

from guilds_testing import (
    DIRECT_ROUTES,
    Client,
    Crew,
    create_server,
    give_role,
    join,
    make_crew,
    text_channel,
)

MakeUser = Callable[..., Awaitable[TestUser]]
CALLERS = ("owner", "admin", "moderator", "member", "outsider", "banned", "anonymous", "other")
SEND = int(Permission.SEND_MESSAGES)


def expect(
    owner: int,
    admin: int,
    moderator: int,
    member: int,
    *,
    outsider: int = 404,
    banned: int = 404,
    other: int = 404,
    anonymous: int = 401,
) -> dict[str, int]:
    return {
        "owner": owner,
        "admin": admin,
        "moderator": moderator,
        "member": member,
        "outsider": outsider,
        "banned": banned,
        "other": other,
        "anonymous": anonymous,
    }


@dataclass
class World:
    client: Client
    make_user: MakeUser
    crew: Crew
    users: dict[str, TestUser]
    general: str
    private: str

    async def victim(self) -> TestUser:
        user = await self.make_user("victim")
        await join(self.client, self.crew.code, user)
        return user

    async def as_owner(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.request(
            method, path, json=body, headers=self.crew.owner.headers
        )
        assert response.status_code < 300, (path, response.text)
        return response.json() if response.content else None


Hook = Callable[[World, str, dict[str, str], int], Awaitable[None]]


@dataclass
class Row:
    name: str
    method: str
    path: str
    body: Any
    expected: dict[str, int]
    before: Hook | None = None
    after: Hook | None = None
    callers: tuple[str, ...] = field(default=CALLERS)


# -- what rows need before and after ---------------------------------------------------------


async def _overwrite_on_victim(world: World, caller: str, names: dict[str, str], _: int) -> None:
    await world.as_owner(
        "PUT",
        f"/api/v1/channels/{names['k']}/permissions/{names['v']}",
        {"target_kind": "member", "deny": SEND},
    )


async def _victim_has_role(world: World, caller: str, names: dict[str, str], _: int) -> None:
    await world.as_owner("PUT", world.crew.url(f"/members/{names['v']}/roles/{names['r']}"))


async def _transfer_back(world: World, caller: str, names: dict[str, str], status: int) -> None:
    if status == 200:
        victim = world.users[f"victim:{names['v']}"]
        back = await world.client.post(
            world.crew.url("/transfer"),
            json={"owner_id": str(world.crew.owner.id)},
            headers=victim.headers,
        )
        assert back.status_code == 200, back.text


async def _out_again(world: World, caller: str, names: dict[str, str], status: int) -> None:
    if caller in ("outsider", "other") and status == 200:
        await world.as_owner("DELETE", world.crew.url(f"/members/{world.users[caller].id}"))


async def _back_in(world: World, caller: str, names: dict[str, str], status: int) -> None:
    if status == 204:
        user = world.users[caller]
        await join(world.client, world.crew.code, user)
        if caller in ("admin", "moderator"):
            await give_role(world.client, world.crew.server, world.crew.owner, user, caller)


S = "/api/v1/servers/{s}"
C = "/api/v1/channels"
ROWS: list[Row] = [
    Row("list servers", "GET", "/api/v1/servers", None, expect(200, 200, 200, 200, outsider=200, banned=200, other=200)),
    Row("create server", "POST", "/api/v1/servers", {"name": "Mine"}, expect(201, 201, 201, 201, outsider=201, banned=201, other=201)),
    Row("get server", "GET", S, None, expect(200, 200, 200, 200)),
    Row("update server", "PATCH", S, {"name": "Renamed"}, expect(200, 200, 403, 403)),
    Row("transfer", "POST", S + "/transfer", {"owner_id": "{v}"}, expect(200, 403, 403, 403), after=_transfer_back),
    Row("join by server", "POST", S + "/join", {"code": "{code}"}, expect(200, 200, 200, 200, outsider=200, banned=403, other=200), after=_out_again),
    Row("list members", "GET", S + "/members", None, expect(200, 200, 200, 200)),
    Row("get member", "GET", S + "/members/{u}", None, expect(200, 200, 200, 200)),
    Row("own nickname", "PATCH", S + "/members/@me", {"nickname": "Me"}, expect(200, 200, 200, 200)),
    Row("own DM privacy", "GET", S + "/privacy", None, expect(200, 200, 200, 200)),
    Row("set DM privacy", "PUT", S + "/privacy", {"allow_dms": True}, expect(200, 200, 200, 200)),
    Row("other's nickname", "PATCH", S + "/members/{v}", {"nickname": "V"}, expect(200, 200, 200, 403)),
    Row("kick", "DELETE", S + "/members/{v}", None, expect(204, 204, 204, 403)),
    Row("leave", "DELETE", S + "/members/@me", None, expect(400, 204, 204, 204), after=_back_in),
    Row("give role", "PUT", S + "/members/{v}/roles/{r}", None, expect(204, 204, 403, 403)),
    Row("take role", "DELETE", S + "/members/{v}/roles/{r}", None, expect(204, 204, 403, 403), before=_victim_has_role),
    Row("list bans", "GET", S + "/bans", None, expect(200, 200, 200, 403)),
    Row("ban", "PUT", S + "/bans/{v}", {"reason": "x"}, expect(204, 204, 204, 403)),
    Row("unban", "DELETE", S + "/bans/{b}", None, expect(204, 204, 204, 403)),
    Row("list roles", "GET", S + "/roles", None, expect(200, 200, 200, 200)),
    Row("create role", "POST", S + "/roles", {"name": "New"}, expect(201, 201, 403, 403)),
    Row("update role", "PATCH", S + "/roles/{r}", {"name": "Renamed"}, expect(200, 200, 403, 403)),
    Row("delete role", "DELETE", S + "/roles/{r}", None, expect(204, 204, 403, 403)),
    Row("list channels", "GET", S + "/channels", None, expect(200, 200, 200, 200)),
    Row("create channel", "POST", S + "/channels", {"name": "new"}, expect(201, 201, 403, 403)),
    Row("reorder channels", "PATCH", S + "/channels", [{"id": "{c}", "position": 0}], expect(204, 204, 403, 403)),
    Row("list invites", "GET", S + "/invites", None, expect(200, 200, 403, 403)),
    Row("audit log", "GET", S + "/audit-log", None, expect(200, 200, 200, 403)),
    Row("get channel", "GET", C + "/{c}", None, expect(200, 200, 200, 200)),
    Row("get private channel", "GET", C + "/{p}", None, expect(200, 200, 404, 404)),
    Row("update channel", "PATCH", C + "/{k}", {"name": "renamed"}, expect(200, 200, 403, 403)),
    Row("delete channel", "DELETE", C + "/{k}", None, expect(204, 204, 403, 403)),
    Row("set overwrite", "PUT", C + "/{c}/permissions/{v}", {"target_kind": "member", "deny": SEND}, expect(204, 204, 403, 403)),
    Row("delete overwrite", "DELETE", C + "/{k}/permissions/{v}", None, expect(204, 204, 403, 403), before=_overwrite_on_victim),
    Row("explain own", "GET", C + "/{c}/permissions/explain", None, expect(200, 200, 200, 200)),
    Row("explain other's", "GET", C + "/{c}/permissions/explain?user_id={v}", None, expect(200, 200, 403, 403)),
    Row("create invite", "POST", C + "/{c}/invites", {}, expect(201, 201, 201, 201)),
    Row("preview invite", "GET", "/api/v1/invites/{code}", None, expect(200, 200, 200, 200, outsider=200, banned=200, other=200, anonymous=200)),
    Row("accept invite", "POST", "/api/v1/invites/{code}", None, expect(200, 200, 200, 200, outsider=200, banned=403, other=200), after=_out_again),
    Row("revoke invite", "DELETE", "/api/v1/invites/{i}", None, expect(204, 204, 403, 403)),
    # Last, and the owner last: it ends the world.
    Row("delete server", "DELETE", S, None, expect(204, 403, 403, 403), callers=(*CALLERS[1:], "owner")),
]  # fmt: skip


async def _world(client: Client, make_user: MakeUser) -> World:
    crew = await make_crew(client, make_user)
    users = {
        "owner": crew.owner,
        "admin": crew.admin,
        "moderator": crew.moderator,
        "member": crew.member,
        "outsider": await make_user("outsider"),
        "banned": await make_user("banned"),
        "other": await make_user("other"),
    }
    await join(client, crew.code, users["banned"])
    banned = await client.put(crew.url(f"/bans/{users['banned'].id}"), headers=crew.owner.headers)
    assert banned.status_code == 204
    await create_server(client, users["other"], "Elsewhere")
    general = (await text_channel(client, crew.server, crew.owner))["id"]
    world = World(client, make_user, crew, users, general, "")
    private = await world.as_owner("POST", crew.url("/channels"), {"name": "private"})
    await world.as_owner(
        "PUT",
        f"{C}/{private['id']}/permissions/{crew.id}",
        {"target_kind": "role", "deny": int(Permission.VIEW_CHANNEL)},
    )
    world.private = private["id"]
    return world


async def _names(world: World, row: Row) -> dict[str, str]:
    """Fresh objects for the placeholders this row uses."""
    text = row.path + json.dumps(row.body)
    crew = world.crew
    names = {
        "s": crew.id,
        "c": world.general,
        "p": world.private,
        "u": str(crew.member.id),
        "code": crew.code,
    }
    if "{v}" in text:
        victim = await world.victim()
        names["v"] = str(victim.id)
        world.users[f"victim:{victim.id}"] = victim
    if "{r}" in text:
        names["r"] = (await world.as_owner("POST", crew.url("/roles"), {"name": "fresh"}))["id"]
    if "{k}" in text:
        names["k"] = (await world.as_owner("POST", crew.url("/channels"), {"name": "fresh"}))["id"]
    if "{i}" in text:
        names["i"] = (await world.as_owner("POST", f"{C}/{world.general}/invites", {}))["code"]
    if "{b}" in text:
        outlaw = await world.make_user("outlaw")
        await world.as_owner("PUT", crew.url(f"/bans/{outlaw.id}"))
        names["b"] = str(outlaw.id)
    return names


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def test_every_endpoint_for_every_caller(client: Client, make_user: MakeUser) -> None:
    world = await _world(client, make_user)
    mismatches: list[str] = []
    for row in ROWS:
        for caller in row.callers:
            names = await _names(world, row)
            if row.before is not None:
                await row.before(world, caller, names, 0)
            headers = {} if caller == "anonymous" else world.users[caller].headers
            response = await client.request(
                row.method,
                _fill(row.path, names),
                json=_fill(row.body, names),
                headers=headers,
            )
            status = response.status_code
            if status != row.expected[caller]:
                mismatches.append(
                    f"{row.name} as {caller}: {status} (expected {row.expected[caller]})"
                    f" {response.text[:120]}"
                )
            elif status >= 400:
                assert set(response.json()) >= {"code", "message"}, response.text
            if row.after is not None:
                await row.after(world, caller, names, status)
    assert mismatches == []
    # Every route of the service is in the table (a new one must be added here too).
    routes = {
        (method, route.path)
        for route in client.app.routes
        if route.path.startswith("/api/")
        for method in getattr(route, "methods", ())
        if method not in ("HEAD", "OPTIONS")
    }
    covered = {(row.method, _route(row.path)) for row in ROWS} | DIRECT_ROUTES
    assert routes == covered


def _route(path: str) -> str:
    """A row's path as the app's route template."""
    templates = {
        "/api/v1/servers/{s}": "/api/v1/servers/{server_id:str}",
        "/api/v1/channels/{c}": "/api/v1/channels/{channel_id:str}",
        "/api/v1/channels/{k}": "/api/v1/channels/{channel_id:str}",
        "/api/v1/channels/{p}": "/api/v1/channels/{channel_id:str}",
        "/members/{u}": "/members/{member_id:str}",
        "/members/{v}": "/members/{member_id:str}",
        "/members/@me": "/members/{member_id:str}",
        "/roles/{r}": "/roles/{role_id:str}",
        "/bans/{v}": "/bans/{user_id:str}",
        "/bans/{b}": "/bans/{user_id:str}",
        "/permissions/{v}": "/permissions/{target_id:str}",
        "/api/v1/invites/{code}": "/api/v1/invites/{code:str}",
        "/api/v1/invites/{i}": "/api/v1/invites/{code:str}",
    }
    path = path.split("?")[0]
    for placeholder, template in templates.items():
        path = path.replace(placeholder, template)
    return path
