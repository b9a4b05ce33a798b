"""Every messages endpoint x every kind of caller, with the expected status: a leak cannot hide.

Callers: the owner, an admin, a moderator, a plain member, a non-member, a banned user, an
anonymous caller and a member of another server. Each row builds what it acts on fresh (a
message by the plain member), so one caller's action cannot change the next caller's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, role_id, text_channel
from messages_testing import send

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
STAFF = {"owner": None, "admin": None, "moderator": None}
BOOK = quote("📚")


@dataclass
class World:
    users: dict[str, TestUser]
    server_id: str
    channel_id: str


def _expect(members: int, staff: int | None = None, member: int | None = None) -> dict[str, int]:
    """Members get ``members`` (staff and the plain member may differ); the rest are refused."""
    expected = {c: members for c in ("owner", "admin", "moderator", "member")}
    if staff is not None:
        expected.update(dict.fromkeys(STAFF, staff))
    if member is not None:
        expected["member"] = member
    expected.update(outsider=404, banned=404, other_server=404, anonymous=401)
    return expected


# (name, method, path template, body, expected). Paths may use {c} channel, {s} server,
# {m} a fresh message by the plain member, {u} the plain member's id.
ROWS: list[tuple[str, str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("send", "POST", "/api/v1/channels/{c}/messages", {"content": "hi"}, _expect(201)),
    ("history", "GET", "/api/v1/channels/{c}/messages", None, _expect(200)),
    ("get", "GET", "/api/v1/channels/{c}/messages/{m}", None, _expect(200)),
    (
        "edit",
        "PATCH",
        "/api/v1/channels/{c}/messages/{m}",
        {"content": "x"},
        _expect(200, staff=403),
    ),
    ("delete", "DELETE", "/api/v1/channels/{c}/messages/{m}", None, _expect(204)),
    ("pin", "PUT", "/api/v1/channels/{c}/messages/{m}/pin", None, _expect(204, member=403)),
    ("unpin", "DELETE", "/api/v1/channels/{c}/messages/{m}/pin", None, _expect(204, member=403)),
    ("pins", "GET", "/api/v1/channels/{c}/messages/pins", None, _expect(200)),
    (
        "bulk",
        "POST",
        "/api/v1/channels/{c}/messages/bulk-delete",
        {"message_ids": ["{m}", "1"]},
        _expect(204, member=403),
    ),
    (
        "react",
        "PUT",
        "/api/v1/channels/{c}/messages/{m}/reactions/" + BOOK + "/@me",
        None,
        _expect(204),
    ),
    (
        "unreact",
        "DELETE",
        "/api/v1/channels/{c}/messages/{m}/reactions/" + BOOK + "/@me",
        None,
        _expect(204),
    ),
    (
        "remove other's reaction",
        "DELETE",
        "/api/v1/channels/{c}/messages/{m}/reactions/" + BOOK + "/{u}",
        None,
        _expect(204, member=204),
    ),
    (
        "reaction users",
        "GET",
        "/api/v1/channels/{c}/messages/{m}/reactions/" + BOOK,
        None,
        _expect(200),
    ),
    ("channel search", "GET", "/api/v1/channels/{c}/messages/search?q=hi", None, _expect(200)),
    ("server search", "GET", "/api/v1/servers/{s}/messages/search?q=hi", None, _expect(200)),
    ("ack", "POST", "/api/v1/channels/{c}/messages/{m}/ack", None, _expect(200)),
    (
        "notify per server",
        "PUT",
        "/api/v1/users/@me/notification-settings/{s}",
        {"level": "mentions"},
        _expect(200),
    ),
    (
        "notify per channel",
        "PUT",
        "/api/v1/users/@me/notification-settings/{c}",
        {"level": "nothing"},
        _expect(200),
    ),
    (
        "own notification settings",
        "GET",
        "/api/v1/users/@me/notification-settings",
        None,
        {**_expect(200), "outsider": 200, "banned": 200, "other_server": 200},
    ),
]


async def _world(guilds: Client, make_user: MakeUser) -> World:
    users = {name: await make_user(name) for name in CALLERS if name != "anonymous"}
    server = await create_server(guilds, users["owner"])
    await invite_and_join(
        guilds,
        server,
        users["owner"],
        users["admin"],
        users["moderator"],
        users["member"],
        users["banned"],
    )
    for who in ("admin", "moderator"):
        role = await role_id(guilds, server, users["owner"], who)
        given = await guilds.put(
            f"/api/v1/servers/{server['id']}/members/{users[who].id}/roles/{role}",
            headers=users["owner"].headers,
        )
        assert given.status_code == 204, given.text
    banned = await guilds.put(
        f"/api/v1/servers/{server['id']}/bans/{users['banned'].id}",
        json={},
        headers=users["owner"].headers,
    )
    assert banned.status_code == 204, banned.text
    await create_server(guilds, users["other_server"], "Elsewhere")
    channel = await text_channel(guilds, server, users["owner"])
    return World(users, server["id"], channel["id"])


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def test_every_endpoint_for_every_caller(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    world = await _world(guilds, make_user)
    member = world.users["member"]
    mismatches: list[str] = []
    for name, method, template, body, expected in ROWS:
        for caller in CALLERS:
            message = await send(client, member, world.channel_id, "hi from the member")
            names = {
                "c": world.channel_id,
                "s": world.server_id,
                "m": message["id"],
                "u": str(member.id),
            }
            if name in ("unpin",):
                pinned = await client.put(
                    f"/api/v1/channels/{world.channel_id}/messages/{message['id']}/pin",
                    headers=world.users["owner"].headers,
                )
                assert pinned.status_code == 204
            if name in ("unreact", "remove other's reaction"):
                reacted = await client.put(
                    f"/api/v1/channels/{world.channel_id}/messages/{message['id']}/reactions/{BOOK}/@me",
                    headers=member.headers,
                )
                assert reacted.status_code == 204
            headers = {} if caller == "anonymous" else world.users[caller].headers
            kwargs: dict[str, Any] = {"headers": headers}
            if body is not None:
                kwargs["json"] = _fill(body, names)
            response = await client.request(method, _fill(template, names), **kwargs)
            if response.status_code != expected[caller]:
                mismatches.append(
                    f"{name} as {caller}: {response.status_code} (expected {expected[caller]}) {response.text[:120]}"
                )
    assert mismatches == []
