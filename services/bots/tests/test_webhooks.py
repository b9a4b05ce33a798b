"""Webhooks: managed by members with MANAGE_WEBHOOKS, executed with their token, every change
an event, gone with their channel or server."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.events import MessageCreated, decode_payload
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from bots_testing import create_webhook, execute
from guilds_testing import Client, Crew, make_crew, text_channel
from messages_testing import history

MakeUser = Callable[..., Awaitable[TestUser]]


async def _crew_and_channel(guilds: Client, make_user: MakeUser) -> tuple[Crew, str]:
    crew = await make_crew(guilds, make_user)
    channel = await text_channel(guilds, crew.server, crew.owner)
    return crew, str(channel["id"])


async def test_a_manager_creates_a_webhook_whose_token_is_shown_once(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.admin, crew.id, channel_id, "Deploys")
    assert hook["name"] == "Deploys"
    assert hook["channel_id"] == channel_id
    assert hook["server_id"] == crew.id
    assert hook["creator_id"] == str(crew.admin.id)
    assert len(hook["token"]) == 43
    assert hook["url"] == f"/api/v1/webhooks/{hook['id']}/{hook['token']}"

    listed = await client.get(crew.url("/webhooks"), headers=crew.owner.headers)
    assert listed.status_code == 200, listed.text
    assert [w["id"] for w in listed.json()] == [hook["id"]]
    assert "token" not in listed.json()[0]
    fetched = await client.get(f"/api/v1/webhooks/{hook['id']}", headers=crew.owner.headers)
    assert fetched.status_code == 200
    assert "token" not in fetched.json()
    assert fetched.json()["name"] == "Deploys"


async def test_the_token_is_stored_hashed(
    client: Client, guilds: Client, make_user: MakeUser, bots_database: asyncpg.Pool
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.owner, crew.id, channel_id)
    stored = await bots_database.fetchval(
        "SELECT token_hash FROM webhooks WHERE id = $1", int(hook["id"])
    )
    assert bytes(stored) == hashlib.sha256(hook["token"].encode()).digest()
    row = await bots_database.fetchrow("SELECT * FROM webhooks WHERE id = $1", int(hook["id"]))
    assert hook["token"] not in str(dict(row))


async def test_executing_posts_a_message_with_the_webhook_as_author(
    client: Client, guilds: Client, messages: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(
        client, crew.owner, crew.id, channel_id, "CI", avatar_url="https://ci.example/a.png"
    )
    message = await execute(
        client,
        hook,
        {
            "content": "build **green**",
            "embeds": [
                {
                    "title": "Build 42",
                    "description": "all tests pass",
                    "url": "https://ci.example/42",
                    "color": 0x00FF00,
                    "timestamp": "2026-12-02T10:00:00Z",
                    "fields": [{"name": "branch", "value": "main", "inline": True}],
                    "author": {"name": "ci-bot", "icon_url": "https://ci.example/i.png"},
                    "footer": {"text": "took 3m"},
                    "image": {"url": "https://ci.example/graph.png"},
                    "thumbnail": {"url": "https://ci.example/t.png"},
                }
            ],
        },
    )
    assert message["webhook_id"] == hook["id"]
    assert message["author"] == {
        "id": hook["id"],
        "username": "CI",
        "avatar_url": "https://ci.example/a.png",
    }
    assert message["channel_id"] == channel_id
    assert message["embeds"][0]["title"] == "Build 42"
    assert message["embeds"][0]["fields"] == [{"name": "branch", "value": "main", "inline": True}]
    assert message["embeds"][0]["timestamp"] == "2026-12-02T10:00:00Z"

    # Overrides for one execution; the stored message keeps what it was posted with.
    other = await execute(
        client,
        hook,
        {"content": "hi", "username": "Release bot", "avatar_url": "https://x.example/r.png"},
    )
    assert other["author"]["username"] == "Release bot"
    assert other["author"]["avatar_url"] == "https://x.example/r.png"
    page = await history(messages, crew.member, channel_id)
    assert [m["id"] for m in page] == [other["id"], message["id"]]
    assert page[1]["author"]["username"] == "CI"
    assert page[1]["embeds"][0]["footer"] == {"text": "took 3m"}
    assert page[0]["webhook_id"] == hook["id"]

    # Without ?wait: 204 and no body.
    quiet = await client.post(hook["url"], json={"content": "quiet"})
    assert quiet.status_code == 204
    assert quiet.content == b""


async def test_an_execution_is_announced_as_message_create(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.owner, crew.id, channel_id)
    message = await execute(client, hook, {"content": "ping @everyone <@123>"})
    subjects = Subjects(namespace)
    [created] = await collect_events(
        nats_client,
        namespace,
        subjects.server_event(int(crew.id), "message.create"),
        count=1,
    )
    event = decode_payload(created)
    assert isinstance(event, MessageCreated)
    assert event.message.id == int(message["id"])
    assert event.message.webhook_id == int(hook["id"])
    # allowed_mentions by default: users and roles, never @everyone.
    assert message["mention_everyone"] is False
    assert message["mention_user_ids"] == ["123"]


async def test_allowed_mentions_decide_what_notifies(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.owner, crew.id, channel_id)
    text = "@everyone <@11> <@22> <@&33>"
    everyone = await execute(
        client, hook, {"content": text, "allowed_mentions": {"parse": ["everyone"]}}
    )
    assert everyone["mention_everyone"] is True
    assert everyone["mention_user_ids"] == []
    assert everyone["mention_role_ids"] == []
    listed = await execute(
        client, hook, {"content": text, "allowed_mentions": {"parse": [], "users": ["22"]}}
    )
    assert listed["mention_user_ids"] == ["22"]
    assert listed["mention_everyone"] is False
    none = await execute(client, hook, {"content": text, "allowed_mentions": {"parse": []}})
    assert (none["mention_user_ids"], none["mention_role_ids"]) == ([], [])


async def test_an_unknown_id_and_a_wrong_token_are_the_same_404(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.owner, crew.id, channel_id)
    wrong = await client.post(f"/api/v1/webhooks/{hook['id']}/{'x' * 43}", json={"content": "a"})
    unknown = await client.post(f"/api/v1/webhooks/1234/{hook['token']}", json={"content": "a"})
    long = await client.post(f"/api/v1/webhooks/{hook['id']}/{'y' * 200}", json={"content": "a"})
    for response in (wrong, unknown, long):
        assert response.status_code == 404, response.text
        assert response.json() == wrong.json()
    for method in ("GET", "PATCH", "DELETE"):
        refused = await client.request(
            method,
            f"/api/v1/webhooks/{hook['id']}/{'x' * 43}",
            json={} if method == "PATCH" else None,
        )
        assert refused.status_code == 404, (method, refused.text)


async def test_regenerating_the_token_kills_the_old_one_at_once(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.owner, crew.id, channel_id)
    fresh = await client.post(f"/api/v1/webhooks/{hook['id']}/token", headers=crew.owner.headers)
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["token"] != hook["token"]
    old = await client.post(hook["url"], json={"content": "old"})
    assert old.status_code == 404
    await execute(client, fresh.json(), {"content": "new"})


async def test_the_token_reads_edits_and_deletes_the_webhook(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.owner, crew.id, channel_id)
    read = await client.get(hook["url"])
    assert read.status_code == 200
    assert read.json()["name"] == "Hooky"
    assert "token" not in read.json()
    renamed = await client.patch(hook["url"], json={"name": "Renamed", "avatar_url": None})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "Renamed"
    moved = await client.patch(hook["url"], json={"channel_id": channel_id})
    assert moved.status_code == 400
    gone = await client.delete(hook["url"])
    assert gone.status_code == 204
    assert (await client.get(hook["url"])).status_code == 404
    assert (await client.post(hook["url"], json={"content": "x"})).status_code == 404


async def test_moving_a_webhook_needs_manage_webhooks_in_both_channels(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    made = await guilds.post(
        crew.url("/channels"), json={"name": "ops", "kind": "text"}, headers=crew.owner.headers
    )
    assert made.status_code == 201, made.text
    ops = made.json()["id"]
    # The moderator manages webhooks in general only (a member overwrite there).
    allow = await guilds.put(
        f"/api/v1/channels/{channel_id}/permissions/{crew.moderator.id}",
        json={"target_kind": "member", "allow": str(1 << 14)},
        headers=crew.owner.headers,
    )
    assert allow.status_code in (200, 204), allow.text
    hook = await create_webhook(client, crew.moderator, crew.id, channel_id)
    refused = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"channel_id": ops}, headers=crew.moderator.headers
    )
    assert refused.status_code == 403, refused.text
    moved = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"channel_id": ops}, headers=crew.owner.headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["channel_id"] == ops
    message = await execute(client, hook, {"content": "in ops now"})
    assert message["channel_id"] == ops


async def test_every_change_is_an_event(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    hook = await create_webhook(client, crew.owner, crew.id, channel_id)
    url = f"/api/v1/webhooks/{hook['id']}"
    assert (
        await client.patch(url, json={"name": "B"}, headers=crew.owner.headers)
    ).status_code == 200
    assert (await client.post(f"{url}/token", headers=crew.owner.headers)).status_code == 200
    assert (await client.delete(url, headers=crew.owner.headers)).status_code == 204
    subjects = Subjects(namespace)
    found = await collect_events(
        nats_client, namespace, subjects.server_event(int(crew.id), "webhook.*"), count=4
    )
    assert [e.type for e in found] == [
        "webhook.create",
        "webhook.update",
        "webhook.update",
        "webhook.delete",
    ]
    assert all("token" not in bytes(e.data).decode() for e in found)


async def test_webhooks_go_with_their_channel_and_server(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    made = await guilds.post(
        crew.url("/channels"), json={"name": "doomed", "kind": "text"}, headers=crew.owner.headers
    )
    doomed = made.json()["id"]
    in_doomed = await create_webhook(client, crew.owner, crew.id, doomed)
    in_general = await create_webhook(client, crew.owner, crew.id, channel_id)
    deleted = await guilds.delete(f"/api/v1/channels/{doomed}", headers=crew.owner.headers)
    assert deleted.status_code == 204, deleted.text

    async def gone(hook: dict[str, Any]) -> bool:
        return (await client.get(hook["url"])).status_code == 404

    await eventually(lambda: gone(in_doomed))
    assert (await client.get(in_general["url"])).status_code == 200
    removed = await guilds.delete(crew.url(), headers=crew.owner.headers)
    assert removed.status_code == 204, removed.text
    await eventually(lambda: gone(in_general))


async def test_executions_are_rate_limited_per_webhook(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    first = await create_webhook(client, crew.owner, crew.id, channel_id, "one")
    second = await create_webhook(client, crew.owner, crew.id, channel_id, "two")
    answers = await asyncio.gather(
        *(client.post(first["url"], json={"content": f"m{i}"}) for i in range(8))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [204] * 5 + [429] * 3
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["code"] == "rate_limited"
    # Another webhook has its own budget; a wrong token spends none of the first's.
    assert (await client.post(second["url"], json={"content": "mine"})).status_code == 204


async def test_a_redelivered_channel_deletion_removes_and_announces_nothing_twice(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    """The consumer's handler, called twice for one channel as a redelivery would."""
    crew, channel_id = await _crew_and_channel(guilds, make_user)
    await create_webhook(client, crew.owner, crew.id, channel_id, "one")
    await create_webhook(client, crew.owner, crew.id, channel_id, "two")
    webhooks = client.app.state.bots_domain.webhooks

    async def remove() -> int:
        removed: int = await webhooks.remove_in_channel(int(channel_id))
        return removed

    first = await asyncio.to_thread(client.blocking_portal.call, remove)
    again = await asyncio.to_thread(client.blocking_portal.call, remove)
    assert (first, again) == (2, 0)
    deleted = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).server_event(int(crew.id), "webhook.delete"),
        count=2,
    )
    assert len(deleted) == 2  # collect_events also checks that no third one follows
