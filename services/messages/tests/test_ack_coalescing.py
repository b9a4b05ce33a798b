"""A client acking many times a second costs two writes per window, not one per ack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.codec import decode
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def messages_settings_overrides() -> dict[str, Any]:
    return {"send_rate_limit": 10_000, "ack_coalesce_seconds": 0.5}


async def test_a_burst_of_acks_is_written_twice_and_ends_at_the_highest(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    owner, reader = await make_user("olga"), await make_user("rita")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, reader)
    channel = (await text_channel(guilds, server, owner))["id"]
    sent = [await send(client, owner, channel, f"m{i}") for i in range(10)]
    answers = []
    for message in sent:
        response = await client.post(
            f"/api/v1/channels/{channel}/messages/{message['id']}/ack", headers=reader.headers
        )
        answers.append(response.json())
    # Each answer already shows where the reader is, written or not yet.
    assert [a["last_read_id"] for a in answers] == [m["id"] for m in sent]
    assert answers[-1]["unread"] is False
    acks = await collect_events(
        nats_client, namespace, Subjects(namespace).user_event(reader.id, "channel.ack"), count=2
    )
    assert len(acks) == 2  # the first at once, the rest as one at the window's end
    assert decode(bytes(acks[-1].data), dict)["message_id"] == sent[-1]["id"]
