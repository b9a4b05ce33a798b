"""Read states: monotonic acks, unread flags and mention counts (the user, their roles,
@everyone/@here), coalesced acks, the READY question, and notification settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.codec import decode
from harmoniq_common.consumers import request
from harmoniq_common.ids import Snowflake
from harmoniq_common.read_states import READ_STATES, ReadStates, ReadStatesRequest, ServerChannels
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import (
    Client,
    befriend,
    create_server,
    give_role,
    invite_and_join,
    open_dm,
    role_id,
    text_channel,
)
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def messages_settings_overrides() -> dict[str, Any]:
    return {"send_rate_limit": 10_000, "ack_coalesce_seconds": 0.0}


async def _ack(client: Client, user: TestUser, channel: str, message: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/channels/{channel}/messages/{message}/ack", headers=user.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _room(
    guilds: Client, make_user: MakeUser
) -> tuple[TestUser, TestUser, dict[str, Any], str]:
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    return owner, member, server, (await text_channel(guilds, server, owner))["id"]


async def test_acks_move_forwards_only_and_count_what_mentions_the_reader(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    owner, member, server, channel = await _room(guilds, make_user)
    await give_role(guilds, server, owner, member, "moderator")
    moderator = await role_id(guilds, server, owner, "moderator")
    admin = await role_id(guilds, server, owner, "admin")
    # Sending reads one's own channel up to one's message: it never counts as unread.
    mine = await send(client, member, channel, f"my own <@{member.id}>")
    assert (await _ack(client, member, channel, mine["id"]))["unread"] is False
    first = await send(client, owner, channel, "welcome")
    await send(client, owner, channel, f"hey <@{member.id}>")
    await send(client, owner, channel, "@here standup")
    await send(client, owner, channel, f"<@&{moderator}> please look")
    await send(client, owner, channel, f"<@&{admin}> not you")
    last = await send(client, owner, channel, "plain")

    state = await _ack(client, member, channel, first["id"])
    assert state["last_read_id"] == first["id"] and state["last_message_id"] == last["id"]
    assert state["unread"] is True and state["mention_count"] == 3
    done = await _ack(client, member, channel, last["id"])
    assert done["unread"] is False and done["mention_count"] == 0
    older = await _ack(client, member, channel, first["id"])
    assert older["last_read_id"] == last["id"]  # never backwards
    # The owner's own messages never made the channel unread for them.
    assert (await _ack(client, owner, channel, first["id"]))["unread"] is False

    acks = await collect_events(
        nats_client, namespace, Subjects(namespace).user_event(member.id, "channel.ack"), count=2
    )
    assert [decode(bytes(e.data), dict)["message_id"] for e in acks] == [first["id"], last["id"]]
    assert [decode(bytes(e.data), dict)["mention_count"] for e in acks] == [3, 0]


async def test_acks_need_a_message_of_a_channel_the_reader_sees(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, _member, _server, channel = await _room(guilds, make_user)
    message = await send(client, owner, channel, "hi")
    stranger = await make_user("stranger")
    refused = await client.post(
        f"/api/v1/channels/{channel}/messages/{message['id']}/ack", headers=stranger.headers
    )
    assert refused.status_code == 404
    other = await create_server(guilds, owner, "Other")
    elsewhere = (await text_channel(guilds, other, owner))["id"]
    wrong = await client.post(
        f"/api/v1/channels/{elsewhere}/messages/{message['id']}/ack", headers=owner.headers
    )
    assert wrong.status_code == 404 and wrong.json()["code"] == "unknown_message"


async def test_ready_asks_for_many_channels_and_dms_at_once(
    client: Client,
    guilds: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    owner, member, server, channel = await _room(guilds, make_user)
    quiet = await guilds.post(
        f"/api/v1/servers/{server['id']}/channels", json={"name": "quiet"}, headers=owner.headers
    )
    await send(client, owner, channel, f"<@{member.id}> one")
    await send(client, owner, channel, "@everyone two")
    await befriend(guilds, owner, member)
    dm = (await open_dm(guilds, owner, member))["id"]
    await send(client, owner, dm, f"psst <@{member.id}>")
    answer = await request(
        nats_client,
        Subjects(namespace).rpc("messages", READ_STATES),
        ReadStatesRequest(
            user_id=member.id,
            servers=[
                ServerChannels(
                    server_id=Snowflake(int(server["id"])),
                    role_ids=[],
                    channel_ids=[Snowflake(int(channel)), Snowflake(int(quiet.json()["id"]))],
                )
            ],
            dm_channel_ids=[Snowflake(int(dm))],
        ),
        ReadStates,
    )
    found = {str(s.channel_id): (s.unread, s.mention_count) for s in answer.states}
    # The quiet channel has nothing to report: left out.
    assert found == {channel: (True, 2), dm: (True, 1)}


async def test_notification_settings_silence_counts(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, server, channel = await _room(guilds, make_user)
    first = await send(client, owner, channel, "start")
    await send(client, owner, channel, f"<@{member.id}> ping")
    settings = "/api/v1/users/@me/notification-settings"

    async def state() -> tuple[bool, int]:
        body = await _ack(client, member, channel, first["id"])
        return body["unread"], body["mention_count"]

    assert await state() == (True, 1)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    muted = await client.put(
        f"{settings}/{server['id']}", json={"muted_until": later}, headers=member.headers
    )
    assert muted.status_code == 200, muted.text
    assert await state() == (False, 0)
    await client.put(f"{settings}/{server['id']}", json={}, headers=member.headers)  # unmuted
    assert await state() == (True, 1)
    await client.put(f"{settings}/{channel}", json={"level": "nothing"}, headers=member.headers)
    assert await state() == (False, 0)
    await client.put(f"{settings}/{channel}", json={"level": "mentions"}, headers=member.headers)
    assert await state() == (True, 1)
    listed = await client.get(settings, headers=member.headers)
    assert [(s["scope_id"], s["level"]) for s in listed.json()] == [(channel, "mentions")]
    stranger = await make_user("stranger")
    refused = await client.put(
        f"{settings}/{server['id']}", json={"level": "all"}, headers=stranger.headers
    )
    assert refused.status_code == 404
    naive = await client.put(
        f"{settings}/{server['id']}",
        json={"muted_until": "2030-01-01T00:00:00"},
        headers=member.headers,
    )
    assert naive.status_code == 400
