"""Every route refuses bad bytes before any work; times and ids must fit in a snowflake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from harmoniq_common.testing.bad_input import refusal_mismatches
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, text_channel
from messages_testing import history, send

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_every_route_refuses_bad_input_before_any_work(
    client: Client, make_user: MakeUser
) -> None:
    prober = await make_user()
    schema = (await client.get("/schema/openapi.json")).json()
    mismatches = await refusal_mismatches(client, schema, prober.headers)
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("before=9999-12-31T00:00:00Z", "before"),  # a 500 (bigint overflow) before
        ("after=9999-12-31", "after"),
        ("before=2020-01-01T00:00:00Z", "before"),  # before the ids' epoch
        ("author_id=99999999999999999999", "author_id"),
        ("author_id=%D9%A1%D9%A2", "author_id"),  # Arabic-Indic digits: a look-alike of "12"
        ("q=%00", "q"),
    ],
)
async def test_search_times_and_ids_outside_a_snowflake_are_400(
    client: Client, guilds: Client, make_user: MakeUser, query: str, field: str
) -> None:
    owner = await make_user()
    server = await create_server(guilds, owner)
    channel = (await text_channel(guilds, server, owner))["id"]
    await send(client, owner, channel, "hello")
    for url in (
        f"/api/v1/channels/{channel}/messages/search?{query}",
        f"/api/v1/servers/{server['id']}/messages/search?{query}",
    ):
        response = await client.get(url, headers=owner.headers)
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == field
    fine = await client.get(
        f"/api/v1/channels/{channel}/messages/search?after=2026-01-01T00:00:00Z&q=hello",
        headers=owner.headers,
    )
    assert fine.status_code == 200, fine.text
    assert len(fine.json()["messages"]) == 1


async def test_content_keeps_line_breaks_but_refuses_other_control_characters(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user()
    server = await create_server(guilds, owner)
    channel = (await text_channel(guilds, server, owner))["id"]
    kept = await send(client, owner, channel, "line one\n\tline two\r\n")
    assert kept["content"] == "line one\n\tline two\r\n"
    for content in ("bell\x07", "escape \x1b[31mred", "nul\x00", " \n\t "):
        response = await client.post(
            f"/api/v1/channels/{channel}/messages",
            json={"content": content},
            headers=owner.headers,
        )
        assert response.status_code == 400, (content, response.text)
        assert response.json()["errors"][0]["field"] == "content"
    assert [m["id"] for m in await history(client, owner, channel)] == [kept["id"]]
