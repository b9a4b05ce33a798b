"""Voice channels carry a user limit and a bitrate; other kinds refuse them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.events import ChannelUpdated, decode_payload
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, make_crew

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_voice_channels_have_a_user_limit_and_bitrate(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(client, make_user)
    created = await client.post(
        crew.url("/channels"),
        json={"name": "Call", "kind": "voice", "user_limit": 4, "bitrate": 96000},
        headers=crew.owner.headers,
    )
    assert created.status_code == 201, created.text
    voice = created.json()
    assert (voice["user_limit"], voice["bitrate"]) == (4, 96000)
    updated = await client.patch(
        f"/api/v1/channels/{voice['id']}", json={"user_limit": 0}, headers=crew.owner.headers
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["user_limit"], updated.json()["bitrate"]) == (0, 96000)
    events = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).server_event(int(crew.id), ChannelUpdated.event_type),
        count=1,
    )
    event = decode_payload(events[0])
    assert isinstance(event, ChannelUpdated) and event.channel.user_limit == 0

    for body in (
        {"name": "Text", "kind": "text", "user_limit": 2},
        {"name": "Call", "kind": "voice", "user_limit": 100},
        {"name": "Call", "kind": "voice", "bitrate": 1},
    ):
        refused = await client.post(crew.url("/channels"), json=body, headers=crew.owner.headers)
        assert refused.status_code == 400, (body, refused.text)
    text = next(
        c
        for c in (await client.get(crew.url("/channels"), headers=crew.owner.headers)).json()
        if c["kind"] == "text"
    )
    assert text["user_limit"] is None
    refused = await client.patch(
        f"/api/v1/channels/{text['id']}", json={"bitrate": 64000}, headers=crew.owner.headers
    )
    assert refused.status_code == 400
