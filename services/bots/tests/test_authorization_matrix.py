"""Every bots endpoint x every kind of caller, with the expected status: a leak cannot hide.

Callers: the server's owner, a member whose role grants MANAGE_WEBHOOKS, a plain member, a bot
that joined the server (a plain member too), an outsider and an anonymous caller. Webhooks: one
in the general channel and one in a channel hidden from everyone but the owner, fresh for each
call (so a delete or a new token does not change the next caller's answer). Token routes take
no Authorization: the token is the credential, so every caller that holds it gets through.
Installed bots need MANAGE_SERVER (only the owner has it here; a bot caller may not install);
outgoing webhooks need MANAGE_WEBHOOKS. Each call gets its own installed bot and endpoint where
its route names one. The table must name every route of the service: a new route fails this
test until it has its row.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.testing.users import TestUser

from bots_testing import create_webhook
from guilds_testing import Client, create_server, give_role, invite_and_join, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]
CALLERS = ("owner", "manager", "member", "bot", "outsider", "anonymous")
W = "/api/v1/webhooks"


def _expect(
    managers: int, members: int, outsider: int = 404, anonymous: int = 401
) -> dict[str, int]:
    return {
        "owner": managers,
        "manager": managers,
        "member": members,
        "bot": members,
        "outsider": outsider,
        "anonymous": anonymous,
    }


def _everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS, status)


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str  # {s} server, {c} general channel, {w} webhook, {t} its token, {b} installed
    # bot, {e} outgoing endpoint, {u} a fresh bot username
    route: str  # the app's route template, for the coverage check
    expected: dict[str, int]
    json: dict[str, Any] | None = None
    hidden: bool = False  # the webhook is in the hidden channel
    headers: dict[str, str] | None = None


SERVER = "/api/v1/servers/{server_id:str}/webhooks"
ONE = f"{W}/{{webhook_id:str}}"
TOKEN = f"{W}/{{webhook_id:str}}/{{token:str}}"
BOTS = "/api/v1/servers/{server_id:str}/bots"
OUT = "/api/v1/servers/{server_id:str}/outgoing-webhooks"
ENDPOINT = {"url": "https://93.184.216.34/hook", "events": ["message.create"]}
ROWS = [
    Row(
        "install a bot",
        "POST",
        "/api/v1/servers/{s}/bots",
        BOTS,
        {**_expect(201, 403), "manager": 403},
        json={"username": "{u}", "permissions": 3},
    ),
    Row(
        "list bots", "GET", "/api/v1/servers/{s}/bots", BOTS, {**_expect(200, 403), "manager": 403}
    ),
    Row(
        "regrant a bot",
        "PATCH",
        "/api/v1/servers/{s}/bots/{b}",
        f"{BOTS}/{{bot_id:str}}",
        {**_expect(200, 403), "manager": 403},
        json={"permissions": 1},
    ),
    Row(
        "uninstall a bot",
        "DELETE",
        "/api/v1/servers/{s}/bots/{b}",
        f"{BOTS}/{{bot_id:str}}",
        {**_expect(204, 403), "manager": 403},
    ),
    Row(
        "create outgoing",
        "POST",
        "/api/v1/servers/{s}/outgoing-webhooks",
        OUT,
        _expect(201, 403),
        json=ENDPOINT,
    ),
    Row("list outgoing", "GET", "/api/v1/servers/{s}/outgoing-webhooks", OUT, _expect(200, 403)),
    Row(
        "edit outgoing",
        "PATCH",
        "/api/v1/servers/{s}/outgoing-webhooks/{e}",
        f"{OUT}/{{endpoint_id:str}}",
        _expect(200, 403),
        json={"events": ["member.joined"]},
    ),
    Row(
        "delete outgoing",
        "DELETE",
        "/api/v1/servers/{s}/outgoing-webhooks/{e}",
        f"{OUT}/{{endpoint_id:str}}",
        _expect(204, 403),
    ),
    Row(
        "outgoing deliveries",
        "GET",
        "/api/v1/servers/{s}/outgoing-webhooks/{e}/deliveries",
        f"{OUT}/{{endpoint_id:str}}/deliveries",
        _expect(200, 403),
    ),
    Row(
        "create",
        "POST",
        "/api/v1/servers/{s}/webhooks",
        SERVER,
        _expect(201, 403),
        json={"channel_id": "{c}", "name": "made"},
    ),
    Row("list", "GET", "/api/v1/servers/{s}/webhooks", SERVER, _expect(200, 403)),
    Row("get", "GET", f"{W}/{{w}}", ONE, _expect(200, 403)),
    Row("get hidden", "GET", f"{W}/{{w}}", ONE, {**_expect(404, 404), "owner": 200}, hidden=True),
    Row("edit", "PATCH", f"{W}/{{w}}", ONE, _expect(200, 403), json={"name": "renamed"}),
    Row("delete", "DELETE", f"{W}/{{w}}", ONE, _expect(204, 403)),
    Row("regenerate token", "POST", f"{W}/{{w}}/token", f"{ONE}/token", _expect(200, 403)),
    Row("execute", "POST", f"{W}/{{w}}/{{t}}", TOKEN, _everyone(204), json={"content": "hi"}),
    Row("get with token", "GET", f"{W}/{{w}}/{{t}}", TOKEN, _everyone(200)),
    Row(
        "edit with token",
        "PATCH",
        f"{W}/{{w}}/{{t}}",
        TOKEN,
        _everyone(200),
        json={"name": "by token"},
    ),
    Row("delete with token", "DELETE", f"{W}/{{w}}/{{t}}", TOKEN, _everyone(204)),
    Row(
        "execute as Slack",
        "POST",
        f"{W}/{{w}}/{{t}}/slack",
        f"{TOKEN}/slack",
        _everyone(200),
        json={"text": "hi"},
    ),
    Row(
        "execute as GitHub",
        "POST",
        f"{W}/{{w}}/{{t}}/github",
        f"{TOKEN}/github",
        _everyone(204),
        json={"zen": "hi"},
        headers={"X-GitHub-Event": "ping"},
    ),
]


@dataclass
class World:
    users: dict[str, TestUser]
    server_id: str
    general: str
    hidden: str


async def _world(auth_client: Client, guilds: Client, make_user: MakeUser) -> World:
    users = {name: await make_user(name) for name in CALLERS if name not in ("anonymous", "bot")}
    owner = users["owner"]
    made = await auth_client.post("/api/v1/bots", json={"username": "robo"}, headers=owner.headers)
    assert made.status_code == 201, made.text
    users["bot"] = TestUser(
        Snowflake(made.json()["bot"]["id"]), "robo", made.json()["token"], "Bot"
    )
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, users["manager"], users["member"], users["bot"])
    role = await guilds.post(
        f"/api/v1/servers/{server['id']}/roles",
        json={"name": "hooks", "permissions": int(Permission.MANAGE_WEBHOOKS)},
        headers=owner.headers,
    )
    assert role.status_code == 201, role.text
    await give_role(guilds, server, owner, users["manager"], str(role.json()["id"]))
    general = str((await text_channel(guilds, server, owner))["id"])
    private = await guilds.post(
        f"/api/v1/servers/{server['id']}/channels", json={"name": "private"}, headers=owner.headers
    )
    assert private.status_code == 201, private.text
    hidden = await guilds.put(
        f"/api/v1/channels/{private.json()['id']}/permissions/{server['id']}",
        json={"target_kind": "role", "deny": int(Permission.VIEW_CHANNEL)},
        headers=owner.headers,
    )
    assert hidden.status_code == 204, hidden.text
    return World(users, str(server["id"]), general, str(private.json()["id"]))


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def _call(client: Client, world: World, row: Row, caller: str) -> str | None:
    """One caller on one route, against a fresh webhook; what went wrong, if anything."""
    owner = world.users["owner"]
    channel = world.hidden if row.hidden else world.general
    hook = await create_webhook(client, owner, world.server_id, channel)
    names = {
        "s": world.server_id,
        "c": world.general,
        "w": hook["id"],
        "t": hook["token"],
        "u": f"b{secrets.token_hex(4)}",
    }
    bots_url = f"/api/v1/servers/{world.server_id}/bots"
    outgoing_url = f"/api/v1/servers/{world.server_id}/outgoing-webhooks"
    if "{b}" in row.path:
        installed = await client.post(
            bots_url,
            json={"username": f"b{secrets.token_hex(4)}", "permissions": 1},
            headers=owner.headers,
        )
        assert installed.status_code == 201, installed.text
        names["b"] = installed.json()["bot_id"]
    if "{e}" in row.path:
        endpoint = await client.post(outgoing_url, json=ENDPOINT, headers=owner.headers)
        assert endpoint.status_code == 201, endpoint.text
        names["e"] = endpoint.json()["id"]
    headers = {} if caller == "anonymous" else dict(world.users[caller].headers)
    kwargs: dict[str, Any] = {"headers": {**headers, **(row.headers or {})}}
    if row.json is not None:
        kwargs["json"] = _fill(row.json, names)
    response = await client.request(row.method, row.path.format(**names), **kwargs)
    # Leave room in the channel (15 webhooks at most): remove what this call made.
    made = [hook["id"]]
    if row.name == "create" and response.status_code == 201:
        made.append(response.json()["id"])
    for webhook_id in made:
        await client.delete(f"{W}/{webhook_id}", headers=owner.headers)
    # The same for installed bots and endpoints (a server holds few endpoints).
    for bot in (await client.get(bots_url, headers=owner.headers)).json():
        await client.delete(f"{bots_url}/{bot['bot_id']}", headers=owner.headers)
    for endpoint in (await client.get(outgoing_url, headers=owner.headers)).json():
        await client.delete(f"{outgoing_url}/{endpoint['id']}", headers=owner.headers)
    if response.status_code != row.expected[caller]:
        return (
            f"{row.name} as {caller}: {response.status_code}"
            f" (expected {row.expected[caller]}) {response.text[:120]}"
        )
    if response.status_code >= 400:
        assert set(response.json()) >= {"code", "message"}, response.text
    return None


async def test_every_endpoint_for_every_caller(
    client: Client, auth_client: Client, guilds: Client, make_user: MakeUser
) -> None:
    world = await _world(auth_client, guilds, make_user)
    mismatches = [
        problem
        for row in ROWS
        for caller in CALLERS
        if (problem := await _call(client, world, row, caller)) is not None
    ]
    assert mismatches == []
    routes = {
        (method, route.path)
        for route in client.app.routes
        if route.path.startswith("/api/")
        for method in getattr(route, "methods", ())
        if method not in ("HEAD", "OPTIONS")
    }
    assert routes == {(row.method, row.route) for row in ROWS}
