"""Every DM and relationship route x every kind of caller, with the expected status.

Callers: the group DM's owner and another participant; a member of a server the participants
share who is not in the DM (that server's owner: roles give nothing in a DM); someone the
owner blocked (also in that server); a stranger; a bot in that server; and anonymous. A DM is
404 to everyone outside it, whatever they hold elsewhere. Whatever a row changes is made
fresh for each caller. guilds' main matrix counts these rows as covering their routes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from redis.asyncio import Redis

from harmoniq_common.auth import BotTokens
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.users import TestUser, announce_user
from harmoniq_common.testing.waiting import eventually

from guilds_testing import DIRECT_ROUTES, Client, befriend, create_server, invite_and_join, open_dm

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture(scope="module")
def guilds_settings_overrides() -> dict[str, Any]:
    """The rows make many DMs and requests per owner: rate limits are tested elsewhere."""
    return {"dm_open_rate_limit": 10_000, "relationship_rate_limit": 10_000}


CALLERS = ("owner", "participant", "member", "blocked", "stranger", "bot", "anonymous")
DMS = "/api/v1/users/@me/channels"
REL = "/api/v1/users/@me/relationships"
PRIVACY = "/api/v1/servers/{s}/privacy"


def expect(
    owner: int,
    participant: int,
    *,
    member: int = 404,
    blocked: int = 404,
    stranger: int = 404,
    bot: int = 404,
    anonymous: int = 401,
) -> dict[str, int]:
    return {
        "owner": owner,
        "participant": participant,
        "member": member,
        "blocked": blocked,
        "stranger": stranger,
        "bot": bot,
        "anonymous": anonymous,
    }


@dataclass
class World:
    client: Client
    make_user: MakeUser
    users: dict[str, TestUser]
    group: str
    server: str = ""  # the server the participants share with the member, blocked and bot

    @property
    def owner(self) -> TestUser:
        return self.users["owner"]

    async def fresh_group(self) -> str:
        group = await open_dm(
            self.client, self.owner, self.users["participant"], await self.friend()
        )
        return str(group["id"])

    async def friend(self) -> TestUser:
        """Someone new whom the owner may add."""
        user = await self.make_user()
        await befriend(self.client, self.owner, user)
        return user


Hook = Callable[[World, str, dict[str, str]], Awaitable[None]]


@dataclass
class Row:
    name: str
    method: str
    path: str
    body: Any
    expected: dict[str, int]
    before: Hook | None = None
    callers: tuple[str, ...] = field(default=CALLERS)


async def _caller_blocks_victim(world: World, caller: str, names: dict[str, str]) -> None:
    if caller in world.users and caller != "bot":
        blocked = await world.client.put(
            f"{REL}/{names['v']}", json={"kind": "blocked"}, headers=world.users[caller].headers
        )
        assert blocked.status_code == 200, blocked.text


ROWS: list[Row] = [
    Row("list dms", "GET", DMS, None, expect(200, 200, member=200, blocked=200, stranger=200, bot=200)),
    Row("open dm with owner", "POST", DMS, {"recipient_ids": ["{o}"]}, expect(400, 200, member=201, blocked=403, stranger=403, bot=201)),
    Row("open group", "POST", DMS, {"recipient_ids": ["{o}", "{p}"]}, expect(201, 201, member=201, blocked=403, stranger=403, bot=403)),
    Row("rename group", "PATCH", DMS + "/{g}", {"name": "Renamed"}, expect(200, 200)),
    Row("leave group", "DELETE", DMS + "/{f}", None, expect(204, 204)),
    Row("add to group", "PUT", DMS + "/{f}/recipients/{x}", None, expect(204, 403)),
    Row("remove from group", "DELETE", DMS + "/{f}/recipients/{y}", None, expect(204, 403)),
    Row("list relationships", "GET", REL, None, expect(200, 200, member=200, blocked=200, stranger=200, bot=200)),
    Row("request by name", "POST", REL, {"username": "{oname}"}, expect(400, 200, member=200, blocked=403, stranger=200, bot=403)),
    Row("request by id", "PUT", REL + "/{o}", {"kind": "friend"}, expect(400, 200, member=200, blocked=403, stranger=200, bot=403)),
    Row("block", "PUT", REL + "/{v}", {"kind": "blocked"}, expect(200, 200, member=200, blocked=200, stranger=200, bot=403)),
    Row("own DM privacy", "GET", PRIVACY, None, expect(200, 200, member=200, blocked=200, bot=200)),
    Row("set DM privacy", "PUT", PRIVACY, {"allow_dms": True}, expect(200, 200, member=200, blocked=200, bot=200)),
    Row("remove relationship", "DELETE", REL + "/{v}", None, expect(204, 204, member=204, blocked=204, stranger=204, bot=403), before=_caller_blocks_victim),
]  # fmt: skip


async def make_bot(
    nats_client: NatsClient, namespace: str, keys: KeyFiles, redis: Redis, name: str
) -> TestUser:
    """A bot as auth would make one: announced, its token's digest where every service looks."""
    announced = await announce_user(nats_client, namespace, keys, name)
    token = f"{announced.id}.{secrets.token_urlsafe(16)}"
    await BotTokens(redis, namespace).store(announced.id, BotTokens.digest(token))
    return TestUser(announced.id, name, token, "Bot")


async def _world(client: Client, make_user: MakeUser, bot: TestUser) -> World:
    names = ("owner", "participant", "member", "blocked", "stranger")
    users = {name: await make_user(f"{name}_{secrets.token_hex(3)}") for name in names}
    users["bot"] = bot
    owner = users["owner"]
    await befriend(client, owner, users["participant"])
    server = await create_server(client, users["member"])  # the member owns the shared server
    await invite_and_join(client, server, users["member"], owner, users["participant"])
    await invite_and_join(client, server, users["member"], users["blocked"], bot)
    blocked = await client.put(
        f"{REL}/{users['blocked'].id}", json={"kind": "blocked"}, headers=owner.headers
    )
    assert blocked.status_code == 200
    await open_dm(client, owner, users["participant"])
    world = World(client, make_user, users, "", server["id"])
    world.group = await world.fresh_group()

    async def owner_known() -> bool:
        found = await client.post(
            REL, json={"username": owner.name}, headers=users["stranger"].headers
        )
        return found.status_code == 200

    await eventually(owner_known, what="the owner's name known to guilds")
    await client.delete(f"{REL}/{owner.id}", headers=users["stranger"].headers)
    return world


async def _names(world: World, row: Row) -> dict[str, str]:
    text = row.path + json.dumps(row.body)
    names = {
        "o": str(world.owner.id),
        "oname": world.owner.name,
        "p": str(world.users["participant"].id),
        "g": world.group,
        "s": world.server,
    }
    if "{f}" in text:
        names["f"] = await world.fresh_group()
    if "{x}" in text:
        names["x"] = str((await world.friend()).id)
    if "{y}" in text:
        group = await world.client.get(DMS, headers=world.owner.headers)
        fresh = next(c for c in group.json() if c["id"] == names["f"])
        names["y"] = next(
            r["id"] for r in fresh["recipients"] if r["id"] not in (names["o"], names["p"])
        )
    if "{v}" in text:
        names["v"] = str((await world.make_user()).id)
    return names


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


async def test_every_dm_and_relationship_route_for_every_caller(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    harmoniq_keys: KeyFiles,
    redis_client: Redis,
) -> None:
    bot = await make_bot(nats_client, namespace, harmoniq_keys, redis_client, "dm_matrix_bot")
    world = await _world(client, make_user, bot)
    mismatches: list[str] = []
    for row in ROWS:
        for caller in row.callers:
            names = await _names(world, row)
            if row.before is not None:
                await row.before(world, caller, names)
            headers = {} if caller == "anonymous" else world.users[caller].headers
            response = await client.request(
                row.method, _fill(row.path, names), json=_fill(row.body, names), headers=headers
            )
            status = response.status_code
            if status != row.expected[caller]:
                mismatches.append(
                    f"{row.name} as {caller}: {status} (expected {row.expected[caller]})"
                    f" {response.text[:120]}"
                )
            elif status >= 400:
                assert set(response.json()) >= {"code", "message"}, response.text
    assert mismatches == []
    assert {(row.method, _route(row.path)) for row in ROWS} == DIRECT_ROUTES
    # Nobody outside the group sees it in their list.
    for caller in ("member", "blocked", "stranger", "bot"):
        listed = await client.get(DMS, headers=world.users[caller].headers)
        assert world.group not in {c["id"] for c in listed.json()}


def _route(path: str) -> str:
    for placeholder in ("{g}", "{f}"):
        path = path.replace(placeholder, "{channel_id:str}")
    path = path.replace("{s}", "{server_id:str}")
    for placeholder in ("{x}", "{y}", "{o}", "{v}"):
        path = path.replace(placeholder, "{user_id:str}")
    return path
