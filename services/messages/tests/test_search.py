"""Search: English stems, words as written, languages without spaces, substrings, filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


async def _search(client: Client, user: TestUser, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_search_finds_stems_scripts_substrings_and_filters(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    member = await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    general = (await text_channel(guilds, server, owner))["id"]
    other = (
        await guilds.post(
            f"/api/v1/servers/{server['id']}/channels",
            json={"name": "random"},
            headers=owner.headers,
        )
    ).json()["id"]

    running = await send(client, owner, general, "I was running late to the meeting")
    chinese = await send(client, member, general, "我们明天在北京见面吧")
    japanese = await send(client, member, other, "東京で会いましょう")
    link = await send(client, member, general, "docs at https://example.com/harmoniq-guide")
    pinned = await send(client, owner, other, "release checklist for friday")
    assert (
        await client.put(
            f"/api/v1/channels/{other}/messages/{pinned['id']}/pin", headers=owner.headers
        )
    ).status_code == 204

    in_general = f"/api/v1/channels/{general}/messages/search"
    in_server = f"/api/v1/servers/{server['id']}/messages/search"

    def ids(body: dict[str, Any]) -> list[str]:
        return [m["id"] for m in body["messages"]]

    assert ids(await _search(client, member, in_general, q="run")) == [
        running["id"]
    ]  # English stem
    assert ids(await _search(client, member, in_general, q="北京")) == [chinese["id"]]  # no spaces
    assert ids(await _search(client, member, in_server, q="東京")) == [japanese["id"]]
    assert ids(await _search(client, member, in_server, q="armoni")) == [link["id"]]  # substring
    assert ids(await _search(client, member, in_general, q="東京")) == []  # other channel
    assert ids(await _search(client, member, in_server, q="checklist", pinned="true")) == [
        pinned["id"]
    ]
    assert ids(await _search(client, member, in_server, q="checklist", pinned="false")) == []
    assert ids(await _search(client, member, in_server, has="link")) == [link["id"]]
    by_owner = await _search(client, member, in_server, author_id=str(owner.id), order="oldest")
    assert ids(by_owner) == [running["id"], pinned["id"]]
    assert ids(
        await _search(client, member, in_server, author_id=str(member.id), channel_id=other)
    ) == [japanese["id"]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert ids(await _search(client, member, in_server, after=future)) == []
    assert len(ids(await _search(client, member, in_server, after=past, before=future))) == 5

    # Pages: newest first, has_more and the next offset.
    first = await _search(client, member, in_server, order="newest", limit=2)
    assert (
        ids(first) == [pinned["id"], link["id"]] and first["has_more"] and first["next_offset"] == 2
    )
    last = await _search(client, member, in_server, order="newest", limit=2, offset=4)
    assert ids(last) == [running["id"]] and not last["has_more"] and last["next_offset"] is None

    for bad in (
        {"limit": 0},
        {"limit": 51},
        {"offset": -1},
        {"order": "random"},
        {"has": "video"},
        {"q": "x" * 201},
        {"author_id": "abc"},
    ):
        response = await client.get(in_server, params=bad, headers=member.headers)
        assert response.status_code == 400, bad


async def test_relevance_puts_the_denser_match_first(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    channel = (await text_channel(guilds, server, owner))["id"]
    dense = await send(client, owner, channel, "deploy deploy deploy: the deploy guide")
    sparse = await send(
        client,
        owner,
        channel,
        "we talked about lunch, and maybe a deploy, and the weather and more",
    )
    body = (
        await client.get(
            f"/api/v1/channels/{channel}/messages/search",
            params={"q": "deploy"},
            headers=owner.headers,
        )
    ).json()
    assert [m["id"] for m in body["messages"]] == [dense["id"], sparse["id"]]


def test_chinese_and_japanese_text_is_trigram_indexed(client: Client) -> None:
    """The database's character classification knows CJK, so the trigram index serves those
    searches instead of every search reading the whole channel (docs/performance.md)."""
    platform = client.app.state.platform

    async def trigrams(text: str) -> list[str]:
        async with platform.pool.acquire() as conn:
            return list(await conn.fetchval("SELECT extensions.show_trgm($1)", text))

    assert client.blocking_portal.call(trigrams, "数据库")
    assert client.blocking_portal.call(trigrams, "サーバー")
