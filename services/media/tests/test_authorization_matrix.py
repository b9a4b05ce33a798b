"""Every media endpoint x every kind of caller, with the expected status: a leak cannot hide.

Callers: the uploader (the server's owner), a member who reads the server's general channel
but not its private one, a banned user, an outsider and an anonymous caller. The files: an
unlinked attachment of the uploader's, attachments linked to the general and the private
channel (linked the way messages links them), an avatar, and a pending direct upload with its
bytes landed (fresh for each caller: completing it changes it). The table must name every
route of the service: a new route fails this test until it has its row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, text_channel
from media_testing import png, upload

MakeUser = Callable[..., Awaitable[TestUser]]
CALLERS = ("uploader", "reader", "banned", "outsider", "anonymous")
M = "/api/v1/media"
IMAGE = png(16, 16)


def _expect(uploader: int, reader: int, others: int, anonymous: int = 401) -> dict[str, int]:
    return {
        "uploader": uploader,
        "reader": reader,
        "banned": others,
        "outsider": others,
        "anonymous": anonymous,
    }


SIGNED_IN = _expect(201, 201, 201)
OWNER_ONLY = _expect(302, 404, 404)
CHANNEL_READERS = _expect(302, 302, 404)


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: str  # {u} unlinked, {g} in general, {h} in the hidden channel, {a} avatar, {p} pending
    route: str  # the app's route template, for the coverage check
    expected: dict[str, int]
    json: dict[str, Any] | None = None
    multipart: bool = False


ROWS = [
    Row("upload", "POST", f"{M}/upload", f"{M}/upload", SIGNED_IN, multipart=True),
    Row(
        "request a direct upload",
        "POST",
        f"{M}/uploads",
        f"{M}/uploads",
        SIGNED_IN,
        json={"filename": "a.png", "size": 10, "content_type": "image/png"},
    ),
    Row(
        "complete a direct upload",
        "POST",
        f"{M}/uploads/{{p}}/complete",
        f"{M}/uploads/{{media_id:str}}/complete",
        _expect(200, 404, 404),
    ),
    Row("unlinked attachment", "GET", f"{M}/{{u}}", f"{M}/{{media_id:str}}", OWNER_ONLY),
    Row("attachment in general", "GET", f"{M}/{{g}}", f"{M}/{{media_id:str}}", CHANNEL_READERS),
    Row("attachment in private", "GET", f"{M}/{{h}}", f"{M}/{{media_id:str}}", OWNER_ONLY),
    Row("avatar", "GET", f"{M}/{{a}}", f"{M}/{{media_id:str}}", _expect(302, 302, 302)),
    Row(
        "unlinked info",
        "GET",
        f"{M}/{{u}}/info",
        f"{M}/{{media_id:str}}/info",
        _expect(200, 404, 404),
    ),
    Row(
        "general info",
        "GET",
        f"{M}/{{g}}/info",
        f"{M}/{{media_id:str}}/info",
        _expect(200, 200, 404),
    ),
    Row(
        "thumbnail in general",
        "GET",
        f"{M}/{{g}}/thumbnails/256",
        f"{M}/{{media_id:str}}/thumbnails/{{size:str}}",
        CHANNEL_READERS,
    ),
    Row(
        "thumbnail in private",
        "GET",
        f"{M}/{{h}}/thumbnails/256",
        f"{M}/{{media_id:str}}/thumbnails/{{size:str}}",
        OWNER_ONLY,
    ),
    Row(
        "public avatar",
        "GET",
        f"{M}/public/{{a}}",
        f"{M}/public/{{media_id:str}}",
        _expect(302, 302, 302, anonymous=302),
    ),
    Row(
        "public avatar thumbnail",
        "GET",
        f"{M}/public/{{a}}/thumbnails/256",
        f"{M}/public/{{media_id:str}}/thumbnails/{{size:str}}",
        _expect(302, 302, 302, anonymous=302),
    ),
    Row(
        "attachment as public",
        "GET",
        f"{M}/public/{{g}}",
        f"{M}/public/{{media_id:str}}",
        _expect(404, 404, 404, anonymous=404),
    ),
]


@dataclass
class World:
    users: dict[str, TestUser]
    files: dict[str, str]


async def _link(db: asyncpg.Pool, media_id: str, channel_id: str) -> None:
    """What media does when messages links a file to a message of that channel."""
    await db.execute(
        """UPDATE media SET linked_kind = 'message', linked_to = 1, channel_id = $2
           WHERE id = $1""",
        int(media_id),
        int(channel_id),
    )


async def _world(client: Client, guilds: Client, make_user: MakeUser, db: asyncpg.Pool) -> World:
    users = {name: await make_user(name) for name in CALLERS if name != "anonymous"}
    uploader = users["uploader"]
    server = await create_server(guilds, uploader)
    await invite_and_join(guilds, server, uploader, users["reader"], users["banned"])
    banned = await guilds.put(
        f"/api/v1/servers/{server['id']}/bans/{users['banned'].id}",
        json={},
        headers=uploader.headers,
    )
    assert banned.status_code == 204, banned.text
    general = (await text_channel(guilds, server, uploader))["id"]
    private = await guilds.post(
        f"/api/v1/servers/{server['id']}/channels",
        json={"name": "private"},
        headers=uploader.headers,
    )
    assert private.status_code == 201, private.text
    hidden = await guilds.put(
        f"/api/v1/channels/{private.json()['id']}/permissions/{server['id']}",
        json={"target_kind": "role", "deny": int(Permission.VIEW_CHANNEL)},
        headers=uploader.headers,
    )
    assert hidden.status_code == 204, hidden.text
    files = {
        key: (await upload(client, uploader.headers, IMAGE, purpose=purpose))["id"]
        for key, purpose in (("u", "attachment"), ("g", "attachment"), ("h", "attachment"),
                             ("a", "avatar"))
    }  # fmt: skip
    await _link(db, files["g"], general)
    await _link(db, files["h"], private.json()["id"])
    return World(users, files)


async def _pending(client: Client, uploader: TestUser) -> str:
    """A direct upload of the uploader's with its bytes landed, not completed."""
    asked = await client.post(
        f"{M}/uploads",
        json={"filename": "d.png", "size": len(IMAGE), "content_type": "image/png"},
        headers=uploader.headers,
    )
    assert asked.status_code == 201, asked.text
    post = asked.json()["upload"]
    async with httpx.AsyncClient() as store:
        landed = await store.post(
            post["url"], data=post["fields"], files={"file": ("f", IMAGE, "image/png")}
        )
    assert landed.status_code in {200, 201, 204}, landed.text
    media_id: str = asked.json()["id"]
    return media_id


async def test_every_endpoint_for_every_caller(
    client: Client, guilds: Client, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    world = await _world(client, guilds, make_user, db)
    mismatches: list[str] = []
    for row in ROWS:
        for caller in CALLERS:
            names = dict(world.files)
            if "{p}" in row.path:
                names["p"] = await _pending(client, world.users["uploader"])
            headers = {} if caller == "anonymous" else world.users[caller].headers
            kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
            if row.json is not None:
                kwargs["json"] = row.json
            if row.multipart:
                kwargs["data"] = {"purpose": "attachment"}
                kwargs["files"] = {"file": ("m.png", IMAGE, "image/png")}
            response = await client.request(row.method, row.path.format(**names), **kwargs)
            if response.status_code != row.expected[caller]:
                mismatches.append(
                    f"{row.name} as {caller}: {response.status_code}"
                    f" (expected {row.expected[caller]}) {response.text[:120]}"
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
    assert routes == {(row.method, row.route) for row in ROWS}
