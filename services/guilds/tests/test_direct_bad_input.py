"""Bad input on every DM and relationship payload: a 400 in the one error body, never a 500,
and nothing written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, befriend, open_dm

MakeUser = Callable[..., Awaitable[TestUser]]
DMS = "/api/v1/users/@me/channels"
REL = "/api/v1/users/@me/relationships"

BAD: list[tuple[str, str, Any]] = [
    ("POST", REL, {"username": "ali\u0000ce"}),
    ("POST", REL, {"username": "alice\n"}),
    ("POST", REL, {"username": ""}),
    ("POST", REL, {"username": "x" * 65}),
    ("POST", REL, {"username": "alice", "extra": 1}),
    ("POST", REL, ["alice"]),
    ("PUT", REL + "/{friend}", {"kind": "enemy"}),
    ("PUT", REL + "/{friend}", {}),
    ("PUT", REL + "/0", {"kind": "friend"}),
    ("PUT", REL + "/abc", {"kind": "friend"}),
    ("POST", DMS, {"recipient_ids": []}),
    ("POST", DMS, {"recipient_ids": ["0"]}),
    ("POST", DMS, {"recipient_ids": ["1\u0000"]}),
    ("POST", DMS, {"recipient_ids": [str(i + 1) for i in range(10)]}),
    ("POST", DMS, {"recipient_ids": ["{friend}"], "name": "a\u0000b"}),
    ("POST", DMS, {"recipient_ids": ["{friend}"], "name": "two\nlines"}),
    ("POST", DMS, {"recipient_ids": ["{friend}"], "icon_id": "../../etc"}),
    ("POST", DMS, {"recipient_ids": ["{friend}"], "name": "a 1:1 DM has no name"}),
    ("PATCH", DMS + "/{group}", {"name": ""}),
    ("PATCH", DMS + "/{group}", {"name": "x" * 101}),
    ("PATCH", DMS + "/{group}", {"owner_id": "1"}),
    ("PUT", DMS + "/{group}/recipients/-1", None),
    ("PUT", "/api/v1/servers/{server}/privacy", {"allow_dms": "yes"}),
    ("PUT", "/api/v1/servers/{server}/privacy", {"allow_dms": True, "extra": 1}),
    ("PUT", "/api/v1/servers/{server}/privacy", {}),
    ("PUT", REL + "/{friend}", {"kind": "friend", "extra": 1}),
    ("PUT", REL + "/{friend}", {"kind": "friend\u0000"}),
    ("POST", DMS, {"recipient_ids": ["{friend}"], "extra": 1}),
    ("POST", DMS, {"recipient_ids": ["{friend}" for _ in range(10_000)]}),
    ("PATCH", DMS + "/{group}", {"name": "a\u0000b"}),
    ("PATCH", DMS + "/{group}", {"icon_id": "x" * 10_000}),
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("method", "path", "body"), BAD)
async def test_bad_payloads_are_400(
    client: Client, make_user: MakeUser, method: str, path: str, body: Any
) -> None:
    me, friend, other = await make_user(), await make_user(), await make_user()
    await befriend(client, me, friend)
    await befriend(client, me, other)
    group = await open_dm(client, me, friend, other)
    server = await client.post("/api/v1/servers", json={"name": "S"}, headers=me.headers)
    names = {"friend": str(friend.id), "group": group["id"], "server": server.json()["id"]}
    filled = _fill(body, names)
    response = await client.request(method, path.format(**names), json=filled, headers=me.headers)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"code", "message", "errors"}
    # Nothing changed: the same DMs as before.
    listed = (await client.get(DMS, headers=me.headers)).json()
    assert [c["id"] for c in listed] == [group["id"]]
    assert listed[0]["name"] is None


async def test_invalid_utf8_is_400(client: Client, make_user: MakeUser) -> None:
    me = await make_user()
    for path in (REL, DMS):
        response = await client.post(
            path,
            content=b'{"username": "\xff\xfe"}',
            headers={**me.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text


async def test_invalid_utf8_is_400_on_every_body_by_id(client: Client, make_user: MakeUser) -> None:
    me, friend, other = await make_user(), await make_user(), await make_user()
    await befriend(client, me, friend)
    await befriend(client, me, other)
    group = await open_dm(client, me, friend, other)
    server = await client.post("/api/v1/servers", json={"name": "S"}, headers=me.headers)
    for method, path in (
        ("PUT", f"{REL}/{friend.id}"),
        ("PATCH", f"{DMS}/{group['id']}"),
        ("PUT", f"/api/v1/servers/{server.json()['id']}/privacy"),
    ):
        response = await client.request(
            method,
            path,
            content=b'{"kind": "\xff\xfe", "name": "\xff", "allow_dms": "\xff"}',
            headers={**me.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (path, response.text)
    listed = (await client.get(DMS, headers=me.headers)).json()
    assert listed[0]["name"] is None
