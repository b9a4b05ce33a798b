"""Pins (with their limit) and reactions (own, others', counts, who reacted)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.events import PinUpdated, ReactionAdded, ReactionRemoved, decode_payload
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def messages_settings_overrides() -> dict[str, Any]:
    return {
        "send_rate_limit": 10_000,
        "max_pins_per_channel": 3,
        "max_reaction_emoji_per_message": 2,
    }


async def _room(
    guilds: Client, make_user: MakeUser
) -> tuple[TestUser, TestUser, str, dict[str, Any]]:
    owner = await make_user("olga")
    member = await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    return owner, member, (await text_channel(guilds, server, owner))["id"], server


async def test_pins_need_manage_messages_and_have_a_limit(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, member, channel_id, server = await _room(guilds, make_user)
    ids = [(await send(client, member, channel_id, f"m{i}"))["id"] for i in range(4)]
    base = f"/api/v1/channels/{channel_id}/messages"
    assert (await client.put(f"{base}/{ids[0]}/pin", headers=member.headers)).status_code == 403
    for message_id in ids[:3]:
        assert (
            await client.put(f"{base}/{message_id}/pin", headers=owner.headers)
        ).status_code == 204
    # Pinning again is a no-op, not a fourth pin.
    assert (await client.put(f"{base}/{ids[0]}/pin", headers=owner.headers)).status_code == 204
    full = await client.put(f"{base}/{ids[3]}/pin", headers=owner.headers)
    assert full.status_code == 400 and full.json()["code"] == "too_many_pins"

    pins = (await client.get(f"{base}/pins", headers=member.headers)).json()
    assert [p["id"] for p in pins] == ids[:3][::-1] and all(p["pinned"] for p in pins)
    assert (await client.delete(f"{base}/{ids[2]}/pin", headers=owner.headers)).status_code == 204
    assert [
        p["id"] for p in (await client.get(f"{base}/pins", headers=member.headers)).json()
    ] == ids[:2][::-1]

    events = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.pin.update", count=4
    )
    last = decode_payload(events[-1])
    assert isinstance(last, PinUpdated) and last.pinned is False and str(last.message_id) == ids[2]
    assert last.last_pin_at is not None  # ids[1] is still pinned


async def test_reactions_counts_me_and_who(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner, member, channel_id, server = await _room(guilds, make_user)
    message = await send(client, owner, channel_id, "react to me")
    url = f"/api/v1/channels/{channel_id}/messages/{message['id']}/reactions"
    thumbs, party = quote("👍🏽"), quote("🎉")
    assert (await client.put(f"{url}/{thumbs}/@me", headers=owner.headers)).status_code == 204
    assert (await client.put(f"{url}/{thumbs}/@me", headers=member.headers)).status_code == 204
    assert (
        await client.put(f"{url}/{thumbs}/@me", headers=member.headers)
    ).status_code == 204  # idempotent
    assert (await client.put(f"{url}/{party}/@me", headers=member.headers)).status_code == 204
    over = await client.put(f"{url}/{quote('🚀')}/@me", headers=member.headers)
    assert over.status_code == 400 and over.json()["code"] == "too_many_reactions"
    for bad in ("notanemoji", quote("👍👍"), "a"):
        response = await client.put(f"{url}/{bad}/@me", headers=member.headers)
        assert response.status_code == 400, bad

    seen_by_member = (
        await client.get(
            f"/api/v1/channels/{channel_id}/messages/{message['id']}", headers=member.headers
        )
    ).json()
    assert seen_by_member["reactions"] == [
        {"emoji": "👍🏽", "count": 2, "me": True},
        {"emoji": "🎉", "count": 1, "me": True},
    ]
    seen_by_owner = (
        await client.get(
            f"/api/v1/channels/{channel_id}/messages/{message['id']}", headers=owner.headers
        )
    ).json()
    assert [r["me"] for r in seen_by_owner["reactions"]] == [True, False]
    who = (await client.get(f"{url}/{thumbs}", headers=member.headers)).json()
    assert sorted(u["username"] for u in who) == ["max", "olga"]

    # Someone else's reaction: only with MANAGE_MESSAGES.
    assert (
        await client.delete(f"{url}/{party}/{member.id}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.delete(f"{url}/{thumbs}/{owner.id}", headers=member.headers)
    ).status_code == 403
    assert (await client.delete(f"{url}/{thumbs}/@me", headers=member.headers)).status_code == 204
    final = (
        await client.get(
            f"/api/v1/channels/{channel_id}/messages/{message['id']}", headers=owner.headers
        )
    ).json()
    assert final["reactions"] == [{"emoji": "👍🏽", "count": 1, "me": True}]

    subject = f"{namespace}.ev.server.{server['id']}.reaction.*"
    events = [
        decode_payload(e) for e in await collect_events(nats_client, namespace, subject, count=5)
    ]
    assert [type(e) for e in events] == [ReactionAdded] * 3 + [ReactionRemoved] * 2
    assert (
        isinstance(events[3], ReactionRemoved)
        and events[3].user_id == member.id
        and events[3].emoji == "🎉"
    )


async def test_a_member_without_add_reactions_may_join_but_not_start_one(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, member, channel_id, server = await _room(guilds, make_user)
    # Take ADD_REACTIONS from everyone in this channel.
    denied = await guilds.put(
        f"/api/v1/channels/{channel_id}/permissions/{server['id']}",
        json={"target_kind": "role", "allow": 0, "deny": 1 << 3},
        headers=owner.headers,
    )
    assert denied.status_code == 204, denied.text
    message = await send(client, owner, channel_id, "vote")
    url = f"/api/v1/channels/{channel_id}/messages/{message['id']}/reactions"
    start = await client.put(f"{url}/{quote('✅')}/@me", headers=member.headers)
    assert start.status_code == 403
    assert (await client.put(f"{url}/{quote('✅')}/@me", headers=owner.headers)).status_code == 204
    assert (await client.put(f"{url}/{quote('✅')}/@me", headers=member.headers)).status_code == 204
