"""Blocks hide messages on the client's request: every answer that shows messages marks
those whose author the viewer blocked (``author_blocked``), for the blocker only, from the
very next request after a block or unblock (the cached list is invalidated by guilds)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import history, send

MakeUser = Callable[..., Awaitable[TestUser]]


async def _marks(client: Client, viewer: TestUser, path: str, **params: Any) -> dict[str, bool]:
    """Message id -> author_blocked, as ``viewer`` is shown them at ``path``."""
    response = await client.get(path, params=params, headers=viewer.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    found = body["messages"] if isinstance(body, dict) else body
    return {m["id"]: m.get("author_blocked", False) for m in found}


async def _relationship(guilds: Client, who: TestUser, other: TestUser, kind: str | None) -> None:
    path = f"/api/v1/users/@me/relationships/{other.id}"
    if kind is None:
        response = await guilds.delete(path, headers=who.headers)
        assert response.status_code == 204, response.text
    else:
        response = await guilds.put(path, json={"kind": kind}, headers=who.headers)
        assert response.status_code == 200, response.text


async def test_messages_of_someone_you_blocked_are_marked_for_you_only(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, alice, bob = await make_user("olga"), await make_user("alice"), await make_user("bob")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, alice, bob)
    channel = (await text_channel(guilds, server, owner))["id"]
    loud = await send(client, alice, channel, "something bob would rather not read")
    own = await send(client, bob, channel, "bob's own words")
    base = f"/api/v1/channels/{channel}/messages"
    assert (await client.put(f"{base}/{loud['id']}/pin", headers=owner.headers)).status_code == 204

    # Asked once before the block: the (empty) list is cached now, and must not outlive it.
    assert await _marks(client, bob, base) == {loud["id"]: False, own["id"]: False}
    await _relationship(guilds, bob, alice, "blocked")

    assert await _marks(client, bob, base) == {loud["id"]: True, own["id"]: False}
    single = await client.get(f"{base}/{loud['id']}", headers=bob.headers)
    assert single.json()["author_blocked"] is True  # and absent where false:
    assert (
        "author_blocked"
        not in (await client.get(f"{base}/{own['id']}", headers=bob.headers)).json()
    )
    assert await _marks(client, bob, f"{base}/pins") == {loud["id"]: True}
    assert await _marks(client, bob, f"{base}/search", q="rather") == {loud["id"]: True}
    server_search = f"/api/v1/servers/{server['id']}/messages/search"
    assert await _marks(client, bob, server_search, q="rather") == {loud["id"]: True}
    # Nobody else's view changes, the blocked person's included (they are not told).
    assert await _marks(client, owner, base) == {loud["id"]: False, own["id"]: False}
    assert await _marks(client, alice, base) == {loud["id"]: False, own["id"]: False}

    await _relationship(guilds, bob, alice, None)  # unblock
    assert [m.get("author_blocked") for m in await history(client, bob, channel)] == [None, None]


async def test_a_friend_or_a_request_marks_nothing(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, alice = await make_user("olga"), await make_user("alice")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, alice)
    channel = (await text_channel(guilds, server, owner))["id"]
    sent = await send(client, alice, channel, "hello")
    await _relationship(guilds, owner, alice, "friend")  # an outgoing request
    base = f"/api/v1/channels/{channel}/messages"
    assert await _marks(client, owner, base) == {sent["id"]: False}
