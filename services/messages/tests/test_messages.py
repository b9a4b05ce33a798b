"""Send, read (cursors), edit, delete, bulk delete, replies, nonces and mentions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.directory import USER_SUMMARIES
from harmoniq_common.events import (
    MessageCreated,
    MessageDeleted,
    MessagesBulkDeleted,
    MessageUpdated,
    decode_payload,
)
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.routes import id_parameter_problems
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import history, send

MakeUser = Callable[..., Awaitable[TestUser]]


async def _room(
    client: Client, guilds: Client, make_user: MakeUser
) -> tuple[TestUser, TestUser, str, dict[str, Any]]:
    owner = await make_user("olga")
    member = await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    channel = await text_channel(guilds, server, owner)
    return owner, member, channel["id"], server


async def test_send_and_read_back_with_author_and_event(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, member, channel_id, server = await _room(client, guilds, make_user)
    sent = await send(client, member, channel_id, "hello there")
    assert sent["author"] == {"id": str(member.id), "username": "max", "avatar_url": None}
    assert sent["channel_id"] == channel_id and sent["server_id"] == server["id"]
    assert sent["edited_at"] is None and sent["reactions"] == [] and sent["pinned"] is False

    got = await client.get(
        f"/api/v1/channels/{channel_id}/messages/{sent['id']}", headers=owner.headers
    )
    assert got.status_code == 200 and got.json() == sent

    [event] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.message.create", count=1
    )
    payload = decode_payload(event)
    assert isinstance(payload, MessageCreated)
    assert payload.message.content == "hello there" and payload.message.author.username == "max"


async def test_history_cursors_newest_first(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, _, channel_id, _ = await _room(client, guilds, make_user)
    ids = [(await send(client, owner, channel_id, f"m{i}", nonce=f"n{i}"))["id"] for i in range(7)]
    page = await history(client, owner, channel_id, limit=3)
    assert [m["id"] for m in page] == ids[::-1][:3]
    older = await history(client, owner, channel_id, before=page[-1]["id"], limit=3)
    assert [m["id"] for m in older] == ids[::-1][3:6]
    newer = await history(client, owner, channel_id, after=ids[1], limit=2)
    assert [m["id"] for m in newer] == [ids[3], ids[2]]
    around = await history(client, owner, channel_id, around=ids[3], limit=4)
    assert [m["id"] for m in around] == [ids[4], ids[3], ids[2], ids[1]]
    both = await client.get(
        f"/api/v1/channels/{channel_id}/messages",
        params={"before": ids[1], "after": ids[0]},
        headers=owner.headers,
    )
    assert both.status_code == 400
    too_many = await client.get(
        f"/api/v1/channels/{channel_id}/messages", params={"limit": 101}, headers=owner.headers
    )
    assert too_many.status_code == 400


async def test_reply_carries_a_preview_and_must_be_in_the_same_channel(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, channel_id, server = await _room(client, guilds, make_user)
    original = await send(client, owner, channel_id, "what do you think? " + "x" * 200)
    reply = await send(client, member, channel_id, "agreed", reply_to_id=original["id"])
    assert reply["reply_to"]["id"] == original["id"]
    assert reply["reply_to"]["author"]["username"] == "olga"
    assert reply["reply_to"]["content"] == original["content"][:100]

    other = await guilds.post(
        f"/api/v1/servers/{server['id']}/channels",
        json={"name": "other", "kind": "text"},
        headers=owner.headers,
    )
    assert other.status_code == 201, other.text
    elsewhere = await client.post(
        f"/api/v1/channels/{other.json()['id']}/messages",
        json={"content": "cross", "reply_to_id": original["id"]},
        headers=owner.headers,
    )
    assert elsewhere.status_code == 400 and elsewhere.json()["errors"][0]["field"] == "reply_to_id"

    # The original goes; the reply stays and says so.
    deleted = await client.delete(
        f"/api/v1/channels/{channel_id}/messages/{original['id']}", headers=owner.headers
    )
    assert deleted.status_code == 204
    again = await client.get(
        f"/api/v1/channels/{channel_id}/messages/{reply['id']}", headers=owner.headers
    )
    assert again.json()["reply_to"] == {"id": original["id"], "author": None, "content": None}


async def test_a_retried_send_with_the_same_nonce_is_stored_once(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, channel_id, _ = await _room(client, guilds, make_user)
    url = f"/api/v1/channels/{channel_id}/messages"
    first = await client.post(
        url, json={"content": "once", "nonce": "abc-1"}, headers=member.headers
    )
    retry = await client.post(
        url, json={"content": "once", "nonce": "abc-1"}, headers=member.headers
    )
    assert first.status_code == 201 and retry.status_code == 200
    assert retry.json()["id"] == first.json()["id"]
    # Same nonce from someone else is their own message.
    theirs = await client.post(
        url, json={"content": "once", "nonce": "abc-1"}, headers=owner.headers
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert len(await history(client, owner, channel_id)) == 2


async def test_mentions_follow_permissions(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, channel_id, server = await _room(client, guilds, make_user)
    roles = (
        await guilds.get(f"/api/v1/servers/{server['id']}/roles", headers=owner.headers)
    ).json()
    moderator = next(r for r in roles if r["name"] == "moderator")
    text = f"hi <@{member.id}> <@!{owner.id}> <@&{moderator['id']}> @everyone <@&999>"
    by_owner = await send(client, owner, channel_id, text)
    assert by_owner["mention_user_ids"] == [str(member.id), str(owner.id)]
    assert by_owner["mention_role_ids"] == [moderator["id"]]
    assert by_owner["mention_everyone"] is True
    # A plain member lacks MENTION_EVERYONE: the words stay, the pings do not.
    by_member = await send(client, member, channel_id, text)
    assert by_member["content"] == text
    assert by_member["mention_user_ids"] == [str(member.id), str(owner.id)]
    assert by_member["mention_role_ids"] == [] and by_member["mention_everyone"] is False


async def test_edit_is_the_authors_alone_and_records_when(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, member, channel_id, server = await _room(client, guilds, make_user)
    sent = await send(client, member, channel_id, "typo")
    url = f"/api/v1/channels/{channel_id}/messages/{sent['id']}"
    by_owner = await client.patch(url, json={"content": "hijack"}, headers=owner.headers)
    assert by_owner.status_code == 403
    edited = await client.patch(
        url, json={"content": "fixed https://example.com"}, headers=member.headers
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["content"] == "fixed https://example.com" and edited.json()["edited_at"]
    [event] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.message.update", count=1
    )
    payload = decode_payload(event)
    assert isinstance(payload, MessageUpdated) and payload.message.edited_at is not None
    assert (await client.get(url, headers=owner.headers)).json()[
        "content"
    ] == "fixed https://example.com"


async def test_delete_by_author_or_moderator_only(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, member, channel_id, server = await _room(client, guilds, make_user)
    third = await make_user("third")
    await invite_and_join(guilds, server, owner, third)
    mine = await send(client, member, channel_id, "mine")
    by_third = await client.delete(
        f"/api/v1/channels/{channel_id}/messages/{mine['id']}", headers=third.headers
    )
    assert by_third.status_code == 403
    by_owner = await client.delete(
        f"/api/v1/channels/{channel_id}/messages/{mine['id']}", headers=owner.headers
    )
    assert by_owner.status_code == 204
    gone = await client.get(
        f"/api/v1/channels/{channel_id}/messages/{mine['id']}", headers=owner.headers
    )
    assert gone.status_code == 404
    [event] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.message.delete", count=1
    )
    payload = decode_payload(event)
    assert isinstance(payload, MessageDeleted) and str(payload.message_id) == mine["id"]


async def test_bulk_delete_for_moderators(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, member, channel_id, server = await _room(client, guilds, make_user)
    ids = [(await send(client, member, channel_id, f"spam {i}"))["id"] for i in range(4)]
    url = f"/api/v1/channels/{channel_id}/messages/bulk-delete"
    refused = await client.post(url, json={"message_ids": ids[:2]}, headers=member.headers)
    assert refused.status_code == 403
    one = await client.post(url, json={"message_ids": ids[:1]}, headers=owner.headers)
    assert one.status_code == 400
    done = await client.post(url, json={"message_ids": [*ids[:3], "123"]}, headers=owner.headers)
    assert done.status_code == 204
    assert [m["id"] for m in await history(client, owner, channel_id)] == [ids[3]]
    [event] = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.message.bulk_delete", count=1
    )
    payload = decode_payload(event)
    assert isinstance(payload, MessagesBulkDeleted)
    assert [str(i) for i in payload.message_ids] == ids[:3]


async def test_bad_input_is_refused_and_stores_nothing(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, _, channel_id, server = await _room(client, guilds, make_user)
    url = f"/api/v1/channels/{channel_id}/messages"
    for body in (
        {},
        {"content": ""},
        {"content": "   "},
        {"content": "x" * 4001},
        {"content": "ok", "extra": 1},
        {"content": 5},
        {"content": "ok", "nonce": "has spaces"},
        {"content": "ok", "reply_to_id": "nope"},
    ):
        response = await client.post(url, json=body, headers=owner.headers)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["code"]
    assert (
        await client.post(
            "/api/v1/channels/abc/messages", json={"content": "x"}, headers=owner.headers
        )
    ).status_code == 400
    assert (await client.post(url, json={"content": "x"})).status_code == 401
    assert await history(client, owner, channel_id) == []
    # A voice channel holds no messages.
    voice = next(
        c
        for c in (
            await guilds.get(f"/api/v1/servers/{server['id']}/channels", headers=owner.headers)
        ).json()
        if c["kind"] == "voice"
    )
    in_voice = await client.post(
        f"/api/v1/channels/{voice['id']}/messages", json={"content": "x"}, headers=owner.headers
    )
    assert in_voice.status_code == 400 and in_voice.json()["code"] == "not_a_text_channel"


async def test_an_author_unknown_here_is_asked_of_auth_once_then_remembered(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    _, member, channel_id, _ = await _room(client, guilds, make_user)
    platform = client.app.state.platform

    async def member_known() -> bool:
        async with platform.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true FROM users WHERE id = $1", member.id))

    async def forget_member() -> None:
        # As if auth's user.created had not arrived yet.
        async with platform.pool.acquire() as conn:
            await conn.execute("DELETE FROM users WHERE id = $1", member.id)

    # auth's event has been applied (else it could bring the row back after we remove it)
    async def in_projection() -> bool:
        return bool(client.blocking_portal.call(member_known))

    await eventually(in_projection, what="the member in the users projection")
    questions = await nats_client.subscribe(Subjects(namespace).rpc("auth", USER_SUMMARIES))
    await nats_client.flush()
    client.blocking_portal.call(forget_member)
    sent = await send(client, member, channel_id, "first words")
    assert sent["author"]["username"] == "max"  # asked of auth, not "unknown"
    await nats_client.flush()
    assert questions.delivered == 1
    # From now on this process knows them: no lookup, no question, on every later send.
    client.blocking_portal.call(forget_member)
    await send(client, member, channel_id, "second words")
    await nats_client.flush()
    assert questions.delivered == 1
    await questions.unsubscribe()


async def test_a_renamed_author_is_sent_under_the_name_the_projection_holds(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    """A send encodes its event before the one statement that writes it, from the name this
    process last saw; the statement writes only if that is still the projection's, so a
    rename this process has not seen is not sent under the old name."""
    _, member, channel_id, server = await _room(client, guilds, make_user)
    platform = client.app.state.platform

    async def named(username: str) -> bool:
        async with platform.pool.acquire() as conn:
            found = await conn.fetchval("SELECT username FROM users WHERE id = $1", member.id)
            return bool(found == username)

    async def in_projection() -> bool:
        return bool(client.blocking_portal.call(named, "max"))

    await eventually(in_projection, what="the member in the users projection")
    before = await send(client, member, channel_id, "as max")  # remembered as "max" now
    assert before["author"]["username"] == "max"

    async def rename() -> None:  # as auth's user.updated would, applied by another instance
        async with platform.pool.acquire() as conn:
            await conn.execute(
                "UPDATE users SET username = 'maxine', avatar_url = 'https://cdn.example/m.png'"
                " WHERE id = $1",
                member.id,
            )

    client.blocking_portal.call(rename)
    after = await send(client, member, channel_id, "as maxine")
    renamed = {
        "id": str(member.id),
        "username": "maxine",
        "avatar_url": "https://cdn.example/m.png",
    }
    assert after["author"] == renamed
    stored = await client.get(
        f"/api/v1/channels/{channel_id}/messages/{after['id']}", headers=member.headers
    )
    assert stored.json() == after
    events = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.message.create", count=2
    )
    created = [decode_payload(e) for e in events]
    assert all(isinstance(p, MessageCreated) for p in created)
    assert [p.message.author.username for p in created] == ["max", "maxine"]  # type: ignore[attr-defined]
    assert [str(p.message.id) for p in created] == [before["id"], after["id"]]  # type: ignore[attr-defined]
    # Written once: the attempt under the old name wrote nothing.
    assert [m["id"] for m in await history(client, member, channel_id)] == [
        after["id"],
        before["id"],
    ]


async def test_every_id_parameter_is_typed(client: Client, make_user: MakeUser) -> None:
    """A snowflake in OpenAPI, and ``x`` in its place a 400 naming it (path and query)."""
    user = await make_user()
    assert await id_parameter_problems(client, user.headers) == []
