"""A session that joins behind the instance's stream gets exactly what it missed.

The instance already follows all of its subjects (another device of the same user is on it):
what it missed comes from the recent-delivery buffer when the buffer reaches back far
enough, and from a new consumer when it does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]
BUFFER = 4


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {"replay_buffer_events": BUFFER}


async def _owner_on_an_instance(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> tuple[TestUser, str, Any, GatewayClient]:
    """A server owner with a text channel, and a gateway instance where the owner's desktop
    is connected (so the instance already follows the channel)."""
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    channel_id = (await text_channel(guilds, server, owner))["id"]
    instance = await start_gateway()
    desktop = await GatewayClient.connect(instance.url)
    await desktop.identify(owner.token)
    return owner, channel_id, instance, desktop


async def _resume_after_missing(
    guilds: Client,
    messages: Client,
    make_user: MakeUser,
    start_gateway: StartGateway,
    n: int,
    *,
    slow_save: bool = False,
) -> tuple[Any, list[str], list[str]]:
    owner, channel_id, instance, desktop = await _owner_on_an_instance(
        guilds, make_user, start_gateway
    )
    phone = await GatewayClient.connect(instance.url)
    await phone.identify(owner.token)
    first = await send(messages, owner, channel_id, "seen")
    assert (await phone.dispatch("message.create"))["d"]["message"]["id"] == first["id"]
    session_id, seq = phone.session_id, phone.seq
    await phone.close()
    missed = [(await send(messages, owner, channel_id, f"missed {i}"))["id"] for i in range(n)]
    for _ in missed:  # the instance has handled them all before the phone comes back
        await desktop.dispatch("message.create")
    creations = instance.gateway.hub.consumer_creations
    if slow_save:
        _save_only_after_the_catch_up(instance.gateway)
    again = await GatewayClient.connect(instance.url)
    await again.send(Op.RESUME, {"token": owner.token, "session_id": session_id, "seq": seq})
    assert (await again.dispatch())["t"] == "resumed"
    got = [(await again.dispatch("message.create"))["d"]["message"]["id"] for _ in missed]
    live = await send(messages, owner, channel_id, "live")
    assert (await again.dispatch("message.create"))["d"]["message"]["id"] == live["id"]
    for client in (desktop, again):
        await client.close()
    return instance.gateway.hub.consumer_creations - creations, missed, got


def _save_only_after_the_catch_up(gateway: Any) -> None:
    """The resume's first await (saving the session) lasts until the hub has replayed the
    missed events: the order a slow Redis gives, made certain."""
    hub, caught_up = gateway.hub, asyncio.Event()
    catch_up, save = hub._catch_up, gateway.save

    async def catch_up_then_tell(item: Any) -> None:
        await catch_up(item)
        caught_up.set()

    async def save_once_caught_up(session: Any) -> None:
        await caught_up.wait()
        await save(session)

    hub._catch_up, gateway.save = catch_up_then_tell, save_once_caught_up


async def test_resumed_comes_before_the_replay_even_when_the_replay_is_quicker(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    """docs/api.md: "You receive dispatch `resumed`, then every durable event you missed"."""
    _, missed, got = await _resume_after_missing(
        guilds, messages, make_user, start_gateway, BUFFER - 1, slow_save=True
    )
    assert got == missed


async def test_a_quick_resume_is_replayed_from_memory_without_a_new_consumer(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    new_consumers, missed, got = await _resume_after_missing(
        guilds, messages, make_user, start_gateway, BUFFER - 1
    )
    assert got == missed  # all of them, in order, once (the live one came next)
    assert new_consumers == 0


async def test_a_resume_older_than_the_buffer_gets_a_consumer_from_that_point(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    new_consumers, missed, got = await _resume_after_missing(
        guilds, messages, make_user, start_gateway, BUFFER + 3
    )
    assert got == missed
    assert new_consumers >= 1


async def test_ready_comes_before_an_event_that_arrives_while_it_is_built(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    """An event the hub delivers between the session's attach and READY (the session is
    saved, presence is read) reaches the new session then: it must still follow READY, the
    snapshot it is applied on top of."""
    owner, channel_id, instance, desktop = await _owner_on_an_instance(
        guilds, make_user, start_gateway
    )
    gateway, save = instance.gateway, instance.gateway.save
    during: list[str] = []

    async def save_after_an_event(session: Any, **options: Any) -> None:
        gateway.save = save  # once
        during.append((await send(messages, owner, channel_id, "while READY is built"))["id"])
        await desktop.dispatch("message.create")  # the hub has handed it to every session
        await save(session, **options)

    gateway.save = save_after_an_event
    phone = await GatewayClient.connect(instance.url)
    await phone.send(Op.IDENTIFY, {"token": owner.token, "properties": {"os": "test"}})
    ready = await phone.dispatch()
    assert ready["t"] == "ready"
    event = await phone.dispatch()
    assert event["t"] == "message.create"
    assert event["d"]["message"]["id"] == during[0]
    assert event["s"] > ready["s"]  # a resume from READY's s replays the event
    for client in (desktop, phone):
        await client.close()
