"""The contract between READY and the event stream: the state READY gives, with the events of
an action applied, equals the state a fresh READY gives after it; and every dispatched event
decodes as its declared schema."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from harmoniq_common.codec import decode
from harmoniq_common.events import EVENT_TYPES
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.presence import PresenceEvent
from harmoniq_gateway.protocol import Op
from harmoniq_gateway.typing_events import TypingEvent

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]
BOOK = "\N{OPEN BOOK}"
State = dict[str, dict[str, Any]]


def _state(ready: dict[str, Any]) -> State:
    """What a client keeps from READY (permissions are recomputed from it, so left out)."""
    return {
        s["server"]["id"]: {
            "server": s["server"],
            "channels": {c["id"]: c for c in s["channels"]},
            "roles": {r["id"]: r for r in s["roles"]},
            "member": s["member"],
            "member_count": s["member_count"],
        }
        for s in ready["servers"]
    }


def _apply(state: State, me: str, event_type: str, d: dict[str, Any]) -> None:
    """A client's reducer: upserts for created/updated, removals for deleted/left."""
    server_id = str(
        d.get("server_id")
        or (d.get("server") or {}).get("id")
        or (d.get("channel") or d.get("role") or d.get("member") or {}).get("server_id")
    )
    entry = state.get(server_id)
    if entry is None:
        return
    if event_type == "server.updated":
        entry["server"] = d["server"]
    elif event_type in ("channel.created", "channel.updated"):
        entry["channels"][d["channel"]["id"]] = d["channel"]
    elif event_type == "channel.deleted":
        entry["channels"].pop(d["channel_id"], None)
    elif event_type in ("role.created", "role.updated"):
        entry["roles"][d["role"]["id"]] = d["role"]
    elif event_type == "role.deleted":
        entry["roles"].pop(d["role_id"], None)
    elif event_type == "member.joined":
        entry["member_count"] = d["member_count"]  # set, not counted: replays cannot miscount
    elif event_type == "member.updated" and d["member"]["user"]["id"] == me:
        entry["member"] = d["member"]
    elif event_type == "member.left":
        if d["user_id"] == me:
            del state[server_id]
        else:
            entry["member_count"] = d["member_count"]


async def test_ready_plus_events_equals_the_next_ready(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member, visitor = await make_user("olga"), await make_user("max"), await make_user("vic")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    sid = server["id"]
    url = (await start_gateway()).url
    client = await GatewayClient.connect(url)
    state = _state((await client.identify(member.token))["d"])
    general = (await text_channel(guilds, server, owner))["id"]

    async def ok(response: Any) -> dict[str, Any]:
        assert response.status_code in (200, 201, 204), response.text
        return dict(response.json()) if response.content else {}

    h = owner.headers
    await ok(
        await guilds.patch(f"/api/v1/servers/{sid}", json={"description": "a book club"}, headers=h)
    )
    created = await ok(
        await guilds.post(f"/api/v1/servers/{sid}/channels", json={"name": "news"}, headers=h)
    )
    await ok(
        await guilds.patch(
            f"/api/v1/channels/{created['id']}", json={"topic": "what's new"}, headers=h
        )
    )
    role = await ok(
        await guilds.post(f"/api/v1/servers/{sid}/roles", json={"name": "reader"}, headers=h)
    )
    await ok(
        await guilds.patch(
            f"/api/v1/servers/{sid}/roles/{role['id']}", json={"color": 255}, headers=h
        )
    )
    await ok(
        await guilds.put(f"/api/v1/servers/{sid}/members/{member.id}/roles/{role['id']}", headers=h)
    )
    await ok(
        await guilds.patch(
            f"/api/v1/servers/{sid}/members/{member.id}",
            json={"nickname": "Maxi"},
            headers=member.headers,
        )
    )
    await invite_and_join(guilds, server, owner, visitor)
    await ok(await guilds.delete(f"/api/v1/servers/{sid}/members/{visitor.id}", headers=h))
    await ok(await guilds.delete(f"/api/v1/channels/{created['id']}", headers=h))
    other_role = await ok(
        await guilds.post(f"/api/v1/servers/{sid}/roles", json={"name": "temp"}, headers=h)
    )
    await ok(await guilds.delete(f"/api/v1/servers/{sid}/roles/{other_role['id']}", headers=h))
    await ok(
        await messages.post(
            f"/api/v1/channels/{general}/messages", json={"content": "fin"}, headers=h
        )
    )

    seen: list[str] = []
    while True:
        frame = await client.dispatch()
        event_type, d = frame["t"], frame["d"]
        if event_type in EVENT_TYPES:
            # Every dispatch is a valid instance of its declared payload.
            decode(msgspec.json.encode(d), EVENT_TYPES[event_type])
        seen.append(event_type)
        _apply(state, str(member.id), event_type, d)
        if event_type == "message.create":
            break
    for expected in (
        "server.updated",
        "channel.created",
        "channel.updated",
        "channel.deleted",
        "role.created",
        "role.updated",
        "role.deleted",
        "member.updated",
        "member.joined",
        "member.left",
    ):
        assert expected in seen, (expected, ", ".join(seen))

    fresh = await GatewayClient.connect(url)
    after = _state((await fresh.identify(member.token))["d"])
    expected_state = copy.deepcopy(state)
    assert expected_state == after
    await client.close()
    await fresh.close()


async def test_every_dispatch_type_arrives_as_its_schema_and_the_user_as_updated(
    guilds: Client,
    messages: Client,
    auth_client: Client,
    make_user: MakeUser,
    start_gateway: StartGateway,
) -> None:
    """The owner (who may see everything) watches one of each action; every dispatch decodes
    as its declared payload, and a fresh READY shows the user as their user.updated said."""
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    sid, general = server["id"], (await text_channel(guilds, server, owner))["id"]
    url = (await start_gateway()).url
    watcher, actor = await GatewayClient.connect(url), await GatewayClient.connect(url)
    await watcher.identify(owner.token)
    await actor.identify(member.token)
    h, m = owner.headers, member.headers

    async def ok(response: Any) -> dict[str, Any]:
        assert response.status_code in (200, 201, 204), response.text
        return dict(response.json()) if response.content else {}

    schemas: dict[str, type] = {
        **EVENT_TYPES,
        "typing.start": TypingEvent,
        "typing.stop": TypingEvent,
        "presence.update": PresenceEvent,
    }
    seen: dict[str, dict[str, Any]] = {}

    async def watch_until(last: str) -> None:
        while last not in seen:
            frame = await watcher.dispatch()
            event_type = frame["t"]
            assert event_type in schemas, event_type
            decode(msgspec.json.encode(frame["d"]), schemas[event_type])
            seen[event_type] = frame["d"]

    await actor.send(Op.TYPING, {"channel_id": general})
    await actor.send(Op.PRESENCE_UPDATE, {"status": "idle"})
    await watch_until("presence.update")  # coalesced: before they stop sharing the server
    base = f"/api/v1/channels/{general}/messages"
    hello = await send(messages, member, general, "hello")  # and typing.stop
    await ok(await messages.patch(f"{base}/{hello['id']}", json={"content": "hi"}, headers=m))
    await ok(await messages.put(f"{base}/{hello['id']}/reactions/{BOOK}/@me", headers=h))
    await ok(await messages.delete(f"{base}/{hello['id']}/reactions/{BOOK}/@me", headers=h))
    await ok(await messages.put(f"{base}/{hello['id']}/pin", headers=h))
    doomed = [(await send(messages, owner, general, f"doomed {i}"))["id"] for i in range(2)]
    await ok(await messages.post(f"{base}/bulk-delete", json={"message_ids": doomed}, headers=h))
    await ok(await messages.delete(f"{base}/{hello['id']}", headers=h))
    invite = await ok(await guilds.post(f"/api/v1/channels/{general}/invites", json={}, headers=h))
    await ok(await guilds.delete(f"/api/v1/invites/{invite['code']}", headers=h))
    await ok(await auth_client.patch("/api/v1/users/me", json={"username": "olga2"}, headers=h))
    await ok(await guilds.put(f"/api/v1/servers/{sid}/bans/{member.id}", headers=h))
    await ok(await guilds.delete(f"/api/v1/servers/{sid}/bans/{member.id}", headers=h))
    second = await create_server(guilds, owner, "second")
    await watch_until("server.created")  # followed from then on
    await ok(await guilds.delete(f"/api/v1/servers/{second['id']}", headers=h))
    await watch_until("server.deleted")
    assert set(seen) >= {
        "typing.start",
        "typing.stop",
        "presence.update",
        "message.create",
        "message.update",
        "message.delete",
        "message.bulk_delete",
        "reaction.add",
        "reaction.remove",
        "pin.update",
        "invite.created",
        "invite.deleted",
        "user.updated",
        "ban.added",
        "member.left",
        "ban.removed",
        "server.created",
        "server.deleted",
    }, sorted(seen)
    fresh = await GatewayClient.connect(url)
    ready = (await fresh.identify(owner.token))["d"]
    assert ready["user"] == seen["user.updated"]["user"]
    assert ready["user"]["username"] == "olga2"
    assert [s["server"]["id"] for s in ready["servers"]] == [sid]
    for client in (watcher, actor, fresh):
        await client.close()
