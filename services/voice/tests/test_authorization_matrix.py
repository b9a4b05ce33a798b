"""Every voice endpoint x every kind of caller, with the expected status: a leak cannot hide.

Callers: the owner, an admin, a moderator, a plain member, a non-member, a banned user, an
anonymous caller and a member of another server. Before each request a plain member
("target") is in the voice channel afresh, so one caller's action cannot change the next
caller's answer. The table fails when a route of the service has no row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NatsClient

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, role_id
from voice_testing import join_voice, voice_channel

MakeUser = Callable[..., Awaitable[TestUser]]
CALLERS = (
    "owner",
    "admin",
    "moderator",
    "member",
    "outsider",
    "banned",
    "anonymous",
    "other_server",
)
STAFF = ("owner", "admin", "moderator")


@dataclass
class World:
    users: dict[str, TestUser]
    server_id: str
    channel_id: str
    other_channel_id: str


def _expect(members: int, member: int | None = None, others: int = 404) -> dict[str, int]:
    expected = dict.fromkeys(STAFF, members)
    expected["member"] = members if member is None else member
    expected.update(outsider=others, banned=others, other_server=others, anonymous=401)
    return expected


VS = "/api/v1/channels/{c}/voice-states"
# (method, path template, body, expected): {c} the voice channel, {t} the target in it,
# {o} another voice channel of the server.
ROWS: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("GET", "/api/v1/voice/ice-servers", None, _expect(200, others=200)),
    ("GET", "/api/v1/voice/doctor", None, _expect(200, others=200)),
    ("GET", VS, None, _expect(200)),
    ("PATCH", VS + "/{t}", {"mute": True}, _expect(200, member=403)),
    ("PATCH", VS + "/{t}", {"deaf": True}, _expect(200, member=403)),
    ("PATCH", VS + "/{t}", {"channel_id": "{o}"}, _expect(200, member=403)),
    ("DELETE", VS + "/{t}", None, _expect(204, member=403)),
]


async def _world(guilds: Client, make_user: MakeUser) -> World:
    users = {name: await make_user(name) for name in (*CALLERS, "target") if name != "anonymous"}
    owner = users["owner"]
    server = await create_server(guilds, owner)
    joiners = ("admin", "moderator", "member", "banned", "target")
    await invite_and_join(guilds, server, owner, *(users[j] for j in joiners))
    for who in ("admin", "moderator"):
        role = await role_id(guilds, server, owner, who)
        given = await guilds.put(
            f"/api/v1/servers/{server['id']}/members/{users[who].id}/roles/{role}",
            headers=owner.headers,
        )
        assert given.status_code == 204, given.text
    banned = await guilds.put(
        f"/api/v1/servers/{server['id']}/bans/{users['banned'].id}", json={}, headers=owner.headers
    )
    assert banned.status_code == 204, banned.text
    await create_server(guilds, users["other_server"], "Elsewhere")
    channel = await voice_channel(guilds, server["id"], owner, "Voice")
    other = await voice_channel(guilds, server["id"], owner, "Other")
    return World(users, server["id"], channel["id"], other["id"])


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def test_every_endpoint_for_every_caller(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    world = await _world(guilds, make_user)
    target = world.users["target"]
    names = {"c": world.channel_id, "o": world.other_channel_id, "t": str(target.id)}
    mismatches: list[str] = []
    for method, template, body, expected in ROWS:
        for caller in CALLERS:
            await join_voice(nats_client, namespace, target, world.channel_id)
            headers = {} if caller == "anonymous" else world.users[caller].headers
            kwargs: dict[str, Any] = {"headers": headers}
            if body is not None:
                kwargs["json"] = _fill(body, names)
            response = await client.request(method, _fill(template, names), **kwargs)
            if response.status_code != expected[caller]:
                mismatches.append(
                    f"{method} {template} {body} as {caller}: {response.status_code}"
                    f" (expected {expected[caller]}) {response.text[:120]}"
                )
            elif response.status_code >= 400:
                assert set(response.json()) >= {"code", "message"}, response.text
    assert mismatches == []
    routes = {
        (method, route.path)
        for route in client.app.routes
        if route.path.startswith("/api/")
        for method in getattr(route, "methods", ())
        if method not in ("HEAD", "OPTIONS")
    }
    covered = {
        (method, template.replace("{c}", "{channel_id:str}").replace("{t}", "{user_id:str}"))
        for method, template, _, _ in ROWS
    }
    assert routes == covered
