"""HELLO → IDENTIFY → READY, dispatches with permissions, resume on another instance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import websockets

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.users import TestUser
from harmoniq_gateway.protocol import Close, Op

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


async def _room(
    guilds: Client, make_user: MakeUser
) -> tuple[TestUser, TestUser, dict[str, Any], str]:
    owner = await make_user("olga")
    member = await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    return owner, member, server, (await text_channel(guilds, server, owner))["id"]


async def test_identify_gives_ready_with_servers_channels_and_permissions(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    _owner, member, server, channel_id = await _room(guilds, make_user)
    client = await GatewayClient.connect((await start_gateway()).url)
    assert client.hello["d"]["heartbeat_interval"] > 0
    ready = await client.identify(member.token)
    d = ready["d"]
    assert d["user"]["id"] == str(member.id) and d["user"]["username"] == "max"
    assert len(d["session_id"]) == 32
    [snapshot] = d["servers"]
    assert snapshot["server"]["id"] == server["id"] and snapshot["member_count"] == 2
    assert channel_id in [c["id"] for c in snapshot["channels"]]
    general = next(c for c in snapshot["access"]["channels"] if c["channel_id"] == channel_id)
    assert general["permissions"] & Permission.SEND_MESSAGES
    assert await client.frames_until_ack() == []
    await client.close()


async def test_messages_arrive_live_in_order_and_private_ones_only_to_viewers(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member, server, channel_id = await _room(guilds, make_user)
    url = (await start_gateway()).url
    watcher = await GatewayClient.connect(url)
    await watcher.identify(member.token)
    private = (
        await guilds.post(
            f"/api/v1/servers/{server['id']}/channels",
            json={"name": "staff"},
            headers=owner.headers,
        )
    ).json()["id"]
    hidden = await guilds.put(
        f"/api/v1/channels/{private}/permissions/{server['id']}",
        json={"target_kind": "role", "allow": 0, "deny": int(Permission.VIEW_CHANNEL)},
        headers=owner.headers,
    )
    assert hidden.status_code == 204
    await send(messages, owner, private, "secret")
    first = await send(messages, owner, channel_id, "one")
    second = await send(messages, owner, channel_id, "two")
    got = [await watcher.dispatch("message.create") for _ in range(2)]
    assert [g["d"]["message"]["id"] for g in got] == [first["id"], second["id"]]
    assert got[0]["s"] < got[1]["s"]
    assert got[0]["d"]["message"]["author"]["username"] == "olga"
    await watcher.close()


async def test_resume_on_another_instance_gets_exactly_what_was_missed(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member, _, channel_id = await _room(guilds, make_user)
    first_instance, second_instance = (await start_gateway()).url, (await start_gateway()).url
    client = await GatewayClient.connect(first_instance)
    await client.identify(member.token)
    seen = await send(messages, owner, channel_id, "before the drop")
    assert (await client.dispatch("message.create"))["d"]["message"]["id"] == seen["id"]
    session_id, seq = client.session_id, client.seq
    await client.close()

    missed = [await send(messages, owner, channel_id, f"missed {i}") for i in range(3)]
    again = await GatewayClient.connect(second_instance)
    await again.send(Op.RESUME, {"token": member.token, "session_id": session_id, "seq": seq})
    assert (await again.dispatch())["t"] == "resumed"
    replayed = [await again.dispatch("message.create") for _ in range(3)]
    assert [r["d"]["message"]["id"] for r in replayed] == [m["id"] for m in missed]
    live = await send(messages, owner, channel_id, "after the resume")
    assert (await again.dispatch("message.create"))["d"]["message"]["id"] == live["id"]
    await again.close()


async def test_an_unknown_session_is_invalid_and_identify_still_works(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    _, member, _, _ = await _room(guilds, make_user)
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.send(Op.RESUME, {"token": member.token, "session_id": "0" * 32, "seq": 0})
    invalid = await client.receive()
    assert invalid["op"] == Op.INVALID_SESSION and invalid["d"] is False
    await client.identify(member.token)
    await client.close()


async def test_a_kicked_member_stops_receiving_the_servers_events(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member, server, channel_id = await _room(guilds, make_user)
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.identify(member.token)
    kicked = await guilds.delete(
        f"/api/v1/servers/{server['id']}/members/{member.id}", headers=owner.headers
    )
    assert kicked.status_code == 204
    left = await client.dispatch("member.left")
    assert left["d"]["user_id"] == str(member.id)
    await send(messages, owner, channel_id, "you are not here")
    # Before the heartbeat answer, anything but the message.
    assert "message.create" not in await client.types_until_ack()
    await client.close()


async def test_bad_token_and_bad_frames_close_with_their_codes(
    make_user: MakeUser, start_gateway: StartGateway
) -> None:
    url = (await start_gateway()).url
    cases: list[tuple[Any, int]] = [
        ({"op": Op.IDENTIFY, "d": {"token": "nope"}}, Close.AUTHENTICATION_FAILED),
        ({"op": Op.IDENTIFY, "d": {"tok": "x"}}, Close.DECODE_ERROR),
        ({"op": 99}, Close.UNKNOWN_OPCODE),
        ({"op": Op.TYPING, "d": {}}, Close.NOT_AUTHENTICATED),
        ("{not json", Close.DECODE_ERROR),
        ("x" * 20_000, 1009),  # refused by uvicorn (ws_max_size) before the app reads it
    ]
    for frame, code in cases:
        client = await GatewayClient.connect(url)
        if isinstance(frame, str):
            await client.connection.send(frame)
        else:
            await client.send(frame["op"], frame.get("d"))
        assert (await client.closed())[0] == code, frame


async def test_msgpack_and_zlib_stream(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member, _, channel_id = await _room(guilds, make_user)
    url = (await start_gateway()).url
    client = await GatewayClient.connect(url, encoding="msgpack", compress=True)
    ready = await client.identify(member.token)
    assert ready["d"]["user"]["username"] == "max"
    sent = await send(messages, owner, channel_id, "packed")
    got = await client.dispatch("message.create")
    assert got["d"]["message"]["id"] == sent["id"] and got["d"]["message"]["content"] == "packed"
    await client.close()


async def test_joining_or_creating_a_server_starts_its_events_at_once(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner = await make_user("olga")
    newcomer = await make_user("nia")
    url = (await start_gateway()).url
    owner_client = await GatewayClient.connect(url)
    await owner_client.identify(owner.token)
    newcomer_client = await GatewayClient.connect(url)
    ready = await newcomer_client.identify(newcomer.token)
    assert ready["d"]["servers"] == []

    server = await create_server(guilds, owner)
    created = await owner_client.dispatch("server.created")
    assert created["d"]["server"]["id"] == server["id"]
    await invite_and_join(guilds, server, owner, newcomer)
    joined = await newcomer_client.dispatch("member.joined")
    assert joined["d"]["member"]["user"]["id"] == str(newcomer.id)
    seen_by_owner = await owner_client.dispatch("member.joined")
    assert seen_by_owner["d"]["member"]["user"]["id"] == str(newcomer.id)

    channel_id = (await text_channel(guilds, server, owner))["id"]
    sent = await send(messages, owner, channel_id, "welcome!")
    for client in (owner_client, newcomer_client):
        got = await client.dispatch("message.create")
        assert got["d"]["message"]["id"] == sent["id"]
        await client.close()


async def test_a_server_come_and_gone_while_away_is_not_replayed_by_half(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    """Its deletion goes to those who follow it; a session that learns of it only on replay
    no longer can, so it is not told of the creation either (a fresh READY agrees)."""
    owner, joiner = await make_user("olga"), await make_user("nia")
    home = await create_server(guilds, owner)
    url = (await start_gateway()).url
    away = {}
    for user in (owner, joiner):
        client = await GatewayClient.connect(url)
        await client.identify(user.token)
        away[user.id] = (client.session_id, client.seq)
        await client.close()
    brief = await create_server(guilds, owner, "brief")
    await invite_and_join(guilds, brief, owner, joiner)
    gone = await guilds.delete(f"/api/v1/servers/{brief['id']}", headers=owner.headers)
    assert gone.status_code == 204
    back = await guilds.patch(
        f"/api/v1/servers/{home['id']}", json={"description": "back"}, headers=owner.headers
    )
    assert back.status_code == 200
    await invite_and_join(guilds, home, owner, joiner)  # the joiner's last event: this join

    for user, last in ((owner, "server.updated"), (joiner, "member.joined")):
        session_id, seq = away[user.id]
        again = await GatewayClient.connect(url)
        await again.send(Op.RESUME, {"token": user.token, "session_id": session_id, "seq": seq})
        replayed: list[tuple[str, str | None]] = []
        while True:
            frame = await again.dispatch()
            d = frame["d"]
            server = (
                d.get("server_id")
                or d.get("server", {}).get("id")
                or d.get("member", {}).get("server_id")
            )
            replayed.append((frame["t"], server))
            if frame["t"] == last and server == home["id"]:
                break
        assert all(server != brief["id"] for _, server in replayed), replayed
        await again.close()


async def test_logout_all_closes_the_users_sockets(
    auth_client: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    user = await make_user()
    other = await make_user()
    url = (await start_gateway()).url
    client = await GatewayClient.connect(url)
    await client.identify(user.token)
    bystander = await GatewayClient.connect(url)
    await bystander.identify(other.token)
    out = await auth_client.post("/api/v1/auth/logout-all", headers=user.headers)
    assert out.status_code == 204
    assert (await client.closed())[0] == Close.TOKEN_REVOKED
    assert await bystander.frames_until_ack() == []
    # A revoked token cannot identify again either.
    again = await GatewayClient.connect(url)
    await again.send(Op.IDENTIFY, {"token": user.token})
    assert (await again.closed())[0] == Close.AUTHENTICATION_FAILED
    await bystander.close()


async def test_a_stopping_instance_sends_reconnect_and_the_client_resumes_elsewhere(
    guilds: Client, messages: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member, _, channel_id = await _room(guilds, make_user)
    leaving, staying = await start_gateway(), await start_gateway()
    client = await GatewayClient.connect(leaving.url)
    await client.identify(member.token)
    await leaving.stop()
    frame = await client.receive()
    assert frame["op"] == Op.RECONNECT
    await client.closed()
    sent = await send(messages, owner, channel_id, "while you moved")
    moved = await GatewayClient.connect(staying.url)
    await moved.send(
        Op.RESUME, {"token": member.token, "session_id": client.session_id, "seq": client.seq}
    )
    assert (await moved.dispatch())["t"] == "resumed"
    assert (await moved.dispatch("message.create"))["d"]["message"]["id"] == sent["id"]
    await moved.close()


async def test_identifying_twice_resuming_the_future_and_bad_encodings_are_refused(
    make_user: MakeUser, start_gateway: StartGateway
) -> None:
    user = await make_user()
    url = (await start_gateway()).url
    twice = await GatewayClient.connect(url)
    await twice.identify(user.token)
    await twice.send(Op.IDENTIFY, {"token": user.token})
    assert (await twice.closed())[0] == Close.ALREADY_AUTHENTICATED

    future = await GatewayClient.connect(url)
    await future.send(
        Op.RESUME, {"token": user.token, "session_id": twice.session_id, "seq": 1 << 60}
    )
    assert (await future.closed())[0] == Close.INVALID_SEQ

    for query in ("?encoding=xml", "?encoding=json&compress=gzip"):
        async with websockets.connect(url + query) as socket:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await socket.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == Close.INVALID_ENCODING
