"""Every route refuses bad bytes before any work, and every id parameter is typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from harmoniq_common.testing.bad_input import refusal_mismatches
from harmoniq_common.testing.routes import id_parameter_problems
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, make_crew
from voice_testing import voice_channel

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_every_route_refuses_bad_input_before_any_work(
    client: Client, make_user: MakeUser
) -> None:
    prober = await make_user()
    schema = (await client.get("/schema/openapi.json")).json()
    mismatches = await refusal_mismatches(client, schema, prober.headers)
    assert not mismatches, "\n".join(mismatches)


async def test_every_id_parameter_is_typed(client: Client, make_user: MakeUser) -> None:
    assert await id_parameter_problems(client, (await make_user()).headers) == []


async def test_moderation_bodies_are_checked(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(guilds, make_user)
    channel = await voice_channel(guilds, crew.id, crew.owner)
    url = f"/api/v1/channels/{channel['id']}/voice-states/{crew.member.id}"
    for body in ({"mute": "yes"}, {"channel_id": "abc"}, {"surprise": 1}, {"channel_id": "0"}):
        response = await client.patch(url, json=body, headers=crew.owner.headers)
        assert response.status_code == 400, (body, response.text)
    bad_json = await client.patch(
        url,
        content=b'{"mute": "\\u0000',
        headers={**crew.owner.headers, "content-type": "application/json"},
    )
    assert bad_json.status_code == 400
    not_in_voice = await client.patch(url, json={"mute": True}, headers=crew.owner.headers)
    assert not_in_voice.status_code == 404
    assert not_in_voice.json()["code"] == "unknown_voice_state"
