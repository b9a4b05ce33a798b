"""Every bots route refuses bad bytes before any work, every id parameter is typed, and every
payload's bad values are a 400 naming the field (never a 500, never a partial write)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.bad_input import refusal_mismatches
from harmoniq_common.testing.routes import id_parameter_problems
from harmoniq_common.testing.users import TestUser

from bots_testing import create_webhook
from guilds_testing import Client, create_server, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_every_route_refuses_bad_input_before_any_work(
    client: Client, make_user: MakeUser
) -> None:
    prober = await make_user()
    schema = (await client.get("/schema/openapi.json")).json()
    mismatches = await refusal_mismatches(client, schema, prober.headers)
    assert not mismatches, "\n".join(mismatches)


async def test_every_id_parameter_is_typed(client: Client, make_user: MakeUser) -> None:
    """A snowflake in OpenAPI, and ``x`` in its place a 400 naming it (path and query)."""
    user = await make_user()
    assert await id_parameter_problems(client, user.headers) == []


def _embed(**fields: Any) -> dict[str, Any]:
    return {"title": "t", **fields}


# (what, body, the field the 400 must name)
BAD_EXECUTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("nothing to show", {}, "content"),
    ("blank content", {"content": "  \n "}, "content"),
    ("content too long", {"content": "x" * 2001}, "content"),
    ("content not a string", {"content": 5}, "content"),
    ("content with a control character", {"content": "a\x07b"}, "content"),
    ("unknown field", {"content": "a", "bogus": 1}, "bogus"),
    ("username empty", {"content": "a", "username": ""}, "username"),
    ("username too long", {"content": "a", "username": "u" * 81}, "username"),
    ("username with a newline", {"content": "a", "username": "a\nb"}, "username"),
    ("avatar not http", {"content": "a", "avatar_url": "javascript:alert(1)"}, "avatar_url"),
    ("embeds not a list", {"embeds": {"title": "t"}}, "embeds"),
    ("eleven embeds", {"embeds": [_embed() for _ in range(11)]}, "embeds"),
    ("embed title too long", {"embeds": [_embed(title="t" * 257)]}, "title"),
    ("embed description too long", {"embeds": [_embed(description="d" * 4097)]}, "description"),
    ("embed color out of range", {"embeds": [_embed(color=0x1000000)]}, "color"),
    ("embed color negative", {"embeds": [_embed(color=-1)]}, "color"),
    ("embed url not http", {"embeds": [_embed(url="ftp://x")]}, "url"),
    ("embed timestamp not a time", {"embeds": [_embed(timestamp="yesterday")]}, "timestamp"),
    ("embed unknown field", {"embeds": [_embed(video={"url": "https://x"})]}, "video"),
    ("embed type not rich", {"embeds": [_embed(type="video")]}, "type"),
    (
        "26 fields",
        {"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]},
        "fields",
    ),
    (
        "field name too long",
        {"embeds": [_embed(fields=[{"name": "n" * 257, "value": "v"}])]},
        "name",
    ),
    (
        "field value too long",
        {"embeds": [_embed(fields=[{"name": "n", "value": "v" * 1025}])]},
        "value",
    ),
    ("field without value", {"embeds": [_embed(fields=[{"name": "n"}])]}, "value"),
    ("footer too long", {"embeds": [_embed(footer={"text": "f" * 2049})]}, "text"),
    ("author name too long", {"embeds": [_embed(author={"name": "a" * 257})]}, "name"),
    ("image without url", {"embeds": [_embed(image={})]}, "url"),
    (
        "over 6000 characters in all",
        {
            "embeds": [
                _embed(title="", description="d" * 4000),
                _embed(title="", description="d" * 2001),
            ]
        },
        "embeds",
    ),
    (
        "allowed_mentions unknown kind",
        {"content": "a", "allowed_mentions": {"parse": ["all"]}},
        "parse",
    ),
    (
        "users listed and parsed",
        {"content": "a", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
        "allowed_mentions.users",
    ),
    ("allowed user not an id", {"content": "a", "allowed_mentions": {"users": ["x"]}}, "users"),
    ("tts not a boolean", {"content": "a", "tts": "yes"}, "tts"),
]


@pytest.fixture
async def hook(client: Client, guilds: Client, make_user: MakeUser) -> dict[str, Any]:
    owner = await make_user()
    server = await create_server(guilds, owner)
    channel = await text_channel(guilds, server, owner)
    return await create_webhook(client, owner, str(server["id"]), str(channel["id"]))


async def test_bad_executions_are_400s_naming_the_field(
    client: Client, messages: Client, hook: dict[str, Any]
) -> None:
    wrong: list[str] = []
    for what, body, field_name in BAD_EXECUTIONS:
        response = await client.post(hook["url"], json=body)
        named = response.status_code == 400 and field_name in response.text
        if not named:
            wrong.append(f"{what}: {response.status_code} {response.text[:160]}")
    assert wrong == []
    # None of them posted anything, and the webhook's budget was not spent on them.
    assert (await client.post(hook["url"], json={"content": "still fine"})).status_code == 204


async def test_embeds_at_their_limits_are_accepted(
    client: Client, messages: Client, hook: dict[str, Any]
) -> None:
    embeds = [
        {
            "title": "t" * 256,
            "description": "d" * 2000,
            "fields": [{"name": "n", "value": "v"}] * 25,
        }
    ] + [{"description": "d" * 350} for _ in range(9)]
    response = await client.post(hook["url"], params={"wait": "true"}, json={"embeds": embeds})
    assert response.status_code == 200, response.text
    assert len(response.json()["embeds"]) == 10


BAD_MANAGEMENT: list[tuple[str, dict[str, Any], str]] = [
    ("name missing", {}, "name"),
    ("name empty", {"name": ""}, "name"),
    ("name blank", {"name": "   "}, "name"),
    ("name too long", {"name": "n" * 81}, "name"),
    ("avatar not a url", {"name": "a", "avatar_url": "x"}, "avatar_url"),
    ("unknown field", {"name": "a", "token": "mine"}, "token"),
    ("channel not an id", {"name": "a", "channel_id": "general"}, "channel_id"),
]


async def test_bad_management_payloads_are_400s_naming_the_field(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user()
    server = await create_server(guilds, owner)
    channel = str((await text_channel(guilds, server, owner))["id"])
    hook = await create_webhook(client, owner, str(server["id"]), channel)
    wrong: list[str] = []
    for what, body, field_name in BAD_MANAGEMENT:
        create = await client.post(
            f"/api/v1/servers/{server['id']}/webhooks",
            json={"channel_id": channel, **body},
            headers=owner.headers,
        )
        edit = await client.patch(
            f"/api/v1/webhooks/{hook['id']}", json=body or {"name": ""}, headers=owner.headers
        )
        for route, response in (("create", create), ("edit", edit)):
            if what == "name missing" and route == "edit":
                continue
            if response.status_code != 400 or field_name not in response.text:
                wrong.append(f"{what} ({route}): {response.status_code} {response.text[:160]}")
    assert wrong == []
    listed = await client.get(f"/api/v1/servers/{server['id']}/webhooks", headers=owner.headers)
    assert [w["id"] for w in listed.json()] == [hook["id"]]  # nothing else was created


async def test_a_channel_of_another_server_or_a_voice_channel_is_refused(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user()
    server = await create_server(guilds, owner)
    elsewhere = await create_server(guilds, owner, "Other")
    foreign = str((await text_channel(guilds, elsewhere, owner))["id"])
    answer = await client.post(
        f"/api/v1/servers/{server['id']}/webhooks",
        json={"channel_id": foreign, "name": "x"},
        headers=owner.headers,
    )
    assert answer.status_code == 404, answer.text
    assert answer.json()["code"] == "unknown_channel"
    channels = await guilds.get(f"/api/v1/servers/{server['id']}/channels", headers=owner.headers)
    voice = next(c for c in channels.json() if c["kind"] == "voice")
    answer = await client.post(
        f"/api/v1/servers/{server['id']}/webhooks",
        json={"channel_id": voice["id"], "name": "x"},
        headers=owner.headers,
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "not_a_text_channel"
