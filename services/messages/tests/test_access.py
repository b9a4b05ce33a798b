"""Authorization comes from guilds and changes take effect on the very next request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.permissions import DEFAULT_MEMBER, Permission
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


async def _room(
    guilds: Client, make_user: MakeUser
) -> tuple[TestUser, TestUser, str, dict[str, Any]]:
    owner = await make_user("olga")
    member = await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    return owner, member, (await text_channel(guilds, server, owner))["id"], server


async def _post(client: Client, user: TestUser, channel_id: str, content: str = "hi") -> int:
    response = await client.post(
        f"/api/v1/channels/{channel_id}/messages", json={"content": content}, headers=user.headers
    )
    return response.status_code


async def _read(client: Client, user: TestUser, channel_id: str) -> int:
    return (
        await client.get(f"/api/v1/channels/{channel_id}/messages", headers=user.headers)
    ).status_code


async def test_a_kicked_member_is_refused_on_the_next_request(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, channel_id, server = await _room(guilds, make_user)
    assert await _post(client, member, channel_id) == 201  # cached now
    kicked = await guilds.delete(
        f"/api/v1/servers/{server['id']}/members/{member.id}", headers=owner.headers
    )
    assert kicked.status_code == 204
    assert await _post(client, member, channel_id) == 404
    assert await _read(client, member, channel_id) == 404


async def test_a_banned_member_is_refused_and_their_recent_messages_can_go(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, channel_id, server = await _room(guilds, make_user)
    kept = await send(client, owner, channel_id, "the owner's")
    for i in range(3):
        await send(client, member, channel_id, f"spam {i}")
    banned = await guilds.put(
        f"/api/v1/servers/{server['id']}/bans/{member.id}",
        json={"reason": "spam", "delete_message_seconds": 3600},
        headers=owner.headers,
    )
    assert banned.status_code == 204, banned.text
    assert await _post(client, member, channel_id) == 404

    async def only_the_owners_left() -> bool:
        page = (
            await client.get(f"/api/v1/channels/{channel_id}/messages", headers=owner.headers)
        ).json()
        return [m["id"] for m in page] == [kept["id"]]

    await eventually(only_the_owners_left, what="the banned member's messages removed")


async def test_a_role_losing_a_permission_is_refused_on_the_next_request(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, channel_id, server = await _room(guilds, make_user)
    assert await _post(client, member, channel_id) == 201
    without_send = int(DEFAULT_MEMBER) & ~int(Permission.SEND_MESSAGES)
    changed = await guilds.patch(
        f"/api/v1/servers/{server['id']}/roles/{server['id']}",
        json={"permissions": without_send},
        headers=owner.headers,
    )
    assert changed.status_code == 200, changed.text
    assert await _post(client, member, channel_id) == 403
    assert await _read(client, member, channel_id) == 200  # reading is still allowed
    assert await _post(client, owner, channel_id) == 201  # the owner is not bound by roles


async def test_a_private_channel_is_invisible_until_a_role_grants_it(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, _, server = await _room(guilds, make_user)
    created = await guilds.post(
        f"/api/v1/servers/{server['id']}/channels", json={"name": "staff"}, headers=owner.headers
    )
    private = created.json()["id"]
    hide = await guilds.put(
        f"/api/v1/channels/{private}/permissions/{server['id']}",
        json={"target_kind": "role", "allow": 0, "deny": int(Permission.VIEW_CHANNEL)},
        headers=owner.headers,
    )
    assert hide.status_code == 204
    await send(client, owner, private, "secret plans")
    assert await _read(client, member, private) == 404
    assert await _post(client, member, private) == 404
    search = await client.get(
        f"/api/v1/servers/{server['id']}/messages/search",
        params={"q": "secret"},
        headers=member.headers,
    )
    assert search.status_code == 200 and search.json()["messages"] == []

    role = await guilds.post(
        f"/api/v1/servers/{server['id']}/roles",
        json={"name": "staff", "permissions": 0},
        headers=owner.headers,
    )
    role_id = role.json()["id"]
    grant = await guilds.put(
        f"/api/v1/channels/{private}/permissions/{role_id}",
        json={"target_kind": "role", "allow": int(Permission.VIEW_CHANNEL), "deny": 0},
        headers=owner.headers,
    )
    assert grant.status_code == 204
    assert await _read(client, member, private) == 404  # the role exists, but is not theirs
    given = await guilds.put(
        f"/api/v1/servers/{server['id']}/members/{member.id}/roles/{role_id}", headers=owner.headers
    )
    assert given.status_code == 204, given.text
    assert await _read(client, member, private) == 200
    search = await client.get(
        f"/api/v1/servers/{server['id']}/messages/search",
        params={"q": "secret"},
        headers=member.headers,
    )
    assert [m["content"] for m in search.json()["messages"]] == ["secret plans"]


async def test_outsiders_and_anonymous_callers_learn_nothing(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, _, channel_id, server = await _room(guilds, make_user)
    message = await send(client, owner, channel_id, "inside")
    outsider = await make_user("eve")
    base = f"/api/v1/channels/{channel_id}/messages"
    for method, path in (
        ("GET", base),
        ("GET", f"{base}/{message['id']}"),
        ("GET", f"{base}/pins"),
        ("GET", f"{base}/search?q=inside"),
        ("DELETE", f"{base}/{message['id']}"),
        ("PUT", f"{base}/{message['id']}/pin"),
    ):
        assert (await client.request(method, path, headers=outsider.headers)).status_code == 404, (
            path
        )
        assert (await client.request(method, path)).status_code == 401, path
    server_search = await client.get(
        f"/api/v1/servers/{server['id']}/messages/search?q=inside", headers=outsider.headers
    )
    assert server_search.status_code == 404
