"""Voice states against the real guilds service: who may join, the limits, one channel per
user, moderators' actions, the events, and everything that makes someone leave."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.codec import decode, encode
from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError
from harmoniq_common.events import VoiceStateUpdated, decode_payload
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually
from harmoniq_common.voice import (
    VOICE_SIGNAL,
    LeaseRenewal,
    SessionEnded,
    SignalDelivery,
    SignalRelayed,
    SignalRequest,
    ended_subject,
    lease_subject,
    session_signal_subject,
)

from guilds_testing import Client, Crew, join, make_crew, role_id
from voice_testing import TEST_TURN_SECRET, join_voice, new_session_id, voice_channel

MakeUser = Callable[..., Awaitable[TestUser]]


async def _states(client: Client, channel_id: str, viewer: TestUser) -> list[dict[str, object]]:
    response = await client.get(
        f"/api/v1/channels/{channel_id}/voice-states", headers=viewer.headers
    )
    assert response.status_code == 200, response.text
    states: list[dict[str, object]] = response.json()
    return states


async def _refused(nats: NatsClient, namespace: str, user: TestUser, channel: str) -> ApiError:
    with pytest.raises(ApiError) as refused:
        await join_voice(nats, namespace, user, channel)
    return refused.value


async def test_join_move_mute_and_leave_emit_state_updates(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    stage = await voice_channel(guilds, crew.id, crew.owner, "Stage")
    assert lounge["user_limit"] == 0 and lounge["bitrate"] == 64000
    phone, laptop = new_session_id(), new_session_id()

    joined = await join_voice(nats_client, namespace, crew.member, lounge["id"], phone)
    assert joined.state is not None and joined.state.session_id == phone
    again = await join_voice(nats_client, namespace, crew.member, lounge["id"], phone)
    assert again.state == joined.state  # the same request twice: one event
    muted = await join_voice(
        nats_client, namespace, crew.member, lounge["id"], phone, self_mute=True
    )
    assert muted.state is not None and muted.state.self_mute
    # Another device joining elsewhere moves the user: one voice channel per user.
    moved = await join_voice(nats_client, namespace, crew.member, stage["id"], laptop)
    assert moved.state is not None and moved.state.session_id == laptop
    assert await _states(client, lounge["id"], crew.owner) == []
    assert [s["user_id"] for s in await _states(client, stage["id"], crew.owner)] == [
        str(crew.member.id)
    ]
    left = await join_voice(nats_client, namespace, crew.member, None, laptop)
    assert left.state is None
    assert await _states(client, stage["id"], crew.owner) == []

    subject = Subjects(namespace).server_event(int(crew.id), VoiceStateUpdated.event_type)
    events = [
        decode_payload(e) for e in await collect_events(nats_client, namespace, subject, count=4)
    ]
    assert all(isinstance(e, VoiceStateUpdated) for e in events)
    updates = [e for e in events if isinstance(e, VoiceStateUpdated)]
    assert [(u.channel_id, u.previous_channel_id, u.self_mute) for u in updates] == [
        (int(lounge["id"]), None, False),
        (int(lounge["id"]), int(lounge["id"]), True),
        (int(stage["id"]), int(lounge["id"]), False),
        (None, int(stage["id"]), False),
    ]


async def test_connect_speak_kind_and_visibility_decide_who_may_join(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    outsider = await make_user("outsider")
    locked = await voice_channel(guilds, crew.id, crew.owner, "Locked")
    quiet = await voice_channel(guilds, crew.id, crew.owner, "Quiet")
    everyone = crew.id  # the default role's id is the server's
    for channel, deny in ((locked, Permission.CONNECT), (quiet, Permission.SPEAK)):
        set_overwrite = await guilds.put(
            f"/api/v1/channels/{channel['id']}/permissions/{everyone}",
            json={"target_kind": "role", "allow": 0, "deny": int(deny)},
            headers=crew.owner.headers,
        )
        assert set_overwrite.status_code == 204, set_overwrite.text
    text = next(
        c
        for c in (await guilds.get(crew.url("/channels"), headers=crew.owner.headers)).json()
        if c["kind"] == "text"
    )

    assert (await _refused(nats_client, namespace, crew.member, locked["id"])).status_code == 403
    assert (await _refused(nats_client, namespace, outsider, locked["id"])).status_code == 404
    not_voice = await _refused(nats_client, namespace, crew.member, text["id"])
    assert (not_voice.status_code, not_voice.code) == (400, "not_a_voice_channel")
    # Without SPEAK: in, but suppressed.
    quietly = await join_voice(nats_client, namespace, crew.member, quiet["id"])
    assert quietly.state is not None and quietly.state.suppress
    # The owner has every permission: not suppressed.
    loud = await join_voice(nats_client, namespace, crew.owner, quiet["id"])
    assert loud.state is not None and not loud.state.suppress
    listing = await client.get(
        f"/api/v1/channels/{quiet['id']}/voice-states", headers=outsider.headers
    )
    assert listing.status_code == 404


async def test_user_limit_holds_but_movers_may_exceed_it(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    small = await voice_channel(guilds, crew.id, crew.owner, "Small", user_limit=1)
    assert small["user_limit"] == 1
    second = await make_user("second")
    await join(guilds, crew.code, second)
    await join_voice(nats_client, namespace, crew.member, small["id"])
    full = await _refused(nats_client, namespace, second, small["id"])
    assert (full.status_code, full.code) == (403, "channel_full")
    # The moderator role has MOVE_MEMBERS.
    await join_voice(nats_client, namespace, crew.moderator, small["id"])
    assert len(await _states(client, small["id"], crew.owner)) == 2
    # Concurrent joins cannot both take the last place.
    race = await voice_channel(guilds, crew.id, crew.owner, "Race", user_limit=1)
    results = await asyncio.gather(
        join_voice(nats_client, namespace, crew.member, race["id"]),
        join_voice(nats_client, namespace, second, race["id"]),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ApiError", "VoiceStateReply"]


async def test_moderators_mute_deafen_move_and_disconnect(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    stage = await voice_channel(guilds, crew.id, crew.owner, "Stage")
    session = new_session_id()
    await join_voice(nats_client, namespace, crew.member, lounge["id"], session)
    url = f"/api/v1/channels/{lounge['id']}/voice-states/{crew.member.id}"

    as_member = await client.patch(url, json={"mute": True}, headers=crew.admin.headers)
    assert as_member.status_code == 200, as_member.text  # admins have every permission
    peer = await make_user("peer")
    await join(guilds, crew.code, peer)
    refused = await client.patch(url, json={"deaf": True}, headers=peer.headers)
    assert refused.status_code == 403, refused.text
    deafened = await client.patch(url, json={"deaf": True}, headers=crew.moderator.headers)
    assert deafened.status_code == 200
    assert (deafened.json()["mute"], deafened.json()["deaf"]) == (True, True)
    # Server mute outlives leaving and joining again.
    await join_voice(nats_client, namespace, crew.member, None, session)
    back = await join_voice(nats_client, namespace, crew.member, lounge["id"], session)
    assert back.state is not None and back.state.mute and back.state.deaf

    moved = await client.patch(
        url, json={"channel_id": stage["id"]}, headers=crew.moderator.headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["channel_id"] == stage["id"]
    assert moved.json()["session_id"] == session
    gone = await client.patch(url, json={"mute": False}, headers=crew.moderator.headers)
    assert gone.status_code == 404  # no longer in that channel

    stage_url = f"/api/v1/channels/{stage['id']}/voice-states/{crew.member.id}"
    assert (await client.delete(stage_url, headers=peer.headers)).status_code == 403
    assert (await client.delete(stage_url, headers=crew.moderator.headers)).status_code == 204
    assert await _states(client, stage["id"], crew.owner) == []
    # Anyone may disconnect themselves.
    await join_voice(nats_client, namespace, peer, stage["id"])
    me = await client.delete(
        f"/api/v1/channels/{stage['id']}/voice-states/@me", headers=peer.headers
    )
    assert me.status_code == 204


async def test_kick_ban_channel_deletion_and_lost_connect_disconnect_at_once(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew: Crew = await make_crew(guilds, make_user)
    outlaw = await make_user("outlaw")
    await join(guilds, crew.code, outlaw)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    doomed = await voice_channel(guilds, crew.id, crew.owner, "Doomed")
    await join_voice(nats_client, namespace, crew.member, lounge["id"])
    await join_voice(nats_client, namespace, crew.moderator, lounge["id"])
    await join_voice(nats_client, namespace, outlaw, lounge["id"])
    await join_voice(nats_client, namespace, crew.admin, doomed["id"])

    kicked = await guilds.delete(crew.url(f"/members/{crew.member.id}"), headers=crew.owner.headers)
    assert kicked.status_code == 204, kicked.text
    banned = await guilds.put(crew.url(f"/bans/{outlaw.id}"), headers=crew.owner.headers)
    assert banned.status_code == 204, banned.text
    deleted = await guilds.delete(f"/api/v1/channels/{doomed['id']}", headers=crew.owner.headers)
    assert deleted.status_code == 204, deleted.text
    moderator_role = await role_id(guilds, crew.server, crew.owner, "moderator")
    denied = await guilds.put(
        f"/api/v1/channels/{lounge['id']}/permissions/{moderator_role}",
        json={"target_kind": "role", "allow": 0, "deny": int(Permission.CONNECT)},
        headers=crew.owner.headers,
    )
    assert denied.status_code == 204, denied.text

    async def everyone_gone() -> bool:
        return await _states(client, lounge["id"], crew.owner) == []

    await eventually(everyone_gone, what="kicked and denied users leave voice")
    subject = Subjects(namespace).server_event(int(crew.id), VoiceStateUpdated.event_type)
    events = [
        decode_payload(e) for e in await collect_events(nats_client, namespace, subject, count=8)
    ]
    reasons = sorted(
        str(e.reason) for e in events if isinstance(e, VoiceStateUpdated) and e.channel_id is None
    )
    assert reasons == ["banned", "channel_deleted", "kicked", "lost_access"]


async def test_sessions_that_end_or_stop_renewing_leave_voice(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    ended, renewed = new_session_id(), new_session_id()
    await join_voice(nats_client, namespace, crew.member, lounge["id"], ended)
    await join_voice(nats_client, namespace, crew.admin, lounge["id"], renewed)
    subjects = Subjects(namespace)
    await nats_client.publish(ended_subject(subjects), encode(SessionEnded(session_id=ended)))

    async def only_admin_left() -> bool:
        states = await _states(client, lounge["id"], crew.owner)
        return [s["user_id"] for s in states] == [str(crew.admin.id)]

    await eventually(only_admin_left, what="an ended session leaves voice")
    # The lease (10 s in these tests) keeps the admin in while renewed; unrenewed, it goes.
    began = time.monotonic()
    for _ in range(3):
        await nats_client.publish(
            lease_subject(subjects), encode(LeaseRenewal(session_ids=[renewed]))
        )
        await asyncio.sleep(4)  # the renewal interval of a gateway, not a synchronisation
    assert time.monotonic() - began > 10
    assert await only_admin_left()

    async def nobody() -> bool:
        return await _states(client, lounge["id"], crew.owner) == []

    await eventually(nobody, timeout=15, what="an unrenewed lease runs out")


async def test_signals_reach_only_a_peer_in_the_same_channel(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    lounge = await voice_channel(guilds, crew.id, crew.owner, "Lounge")
    other = await voice_channel(guilds, crew.id, crew.owner, "Other")
    alice, bob, carol = new_session_id(), new_session_id(), new_session_id()
    await join_voice(nats_client, namespace, crew.member, lounge["id"], alice)
    await join_voice(nats_client, namespace, crew.admin, lounge["id"], bob)
    await join_voice(nats_client, namespace, crew.moderator, other["id"], carol)
    subjects = Subjects(namespace)
    inbox = await nats_client.subscribe(session_signal_subject(subjects, bob))

    def offer(sender: TestUser, session: str, to: TestUser) -> SignalRequest:
        return SignalRequest(
            from_user_id=Snowflake(int(sender.id)),
            from_session_id=session,
            to_user_id=Snowflake(int(to.id)),
            kind="offer",
            sdp="v=0\r\n",
        )

    rpc = subjects.rpc("voice", VOICE_SIGNAL)
    relayed = await request(nats_client, rpc, offer(crew.member, alice, crew.admin), SignalRelayed)
    assert relayed.to_session_id == bob
    delivery = decode((await inbox.next_msg(timeout=5)).data, SignalDelivery)
    assert (delivery.from_user_id, delivery.from_session_id, delivery.sdp) == (
        int(crew.member.id),
        alice,
        "v=0\r\n",
    )
    for sender, session, code in (
        (crew.moderator, carol, "peer_not_in_channel"),  # another channel
        (crew.member, new_session_id(), "not_in_voice"),  # not the session in voice
        (crew.owner, new_session_id(), "not_in_voice"),  # not in voice at all
    ):
        with pytest.raises(ApiError) as refused:
            await request(nats_client, rpc, offer(sender, session, crew.admin), SignalRelayed)
        assert refused.value.code == code
    with pytest.raises(TimeoutError):
        await inbox.next_msg(timeout=0.3)


async def test_ice_servers_carry_coturn_credentials(client: Client, make_user: MakeUser) -> None:
    user = await make_user()
    response = await client.get("/api/v1/voice/ice-servers", headers=user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    turn = next(s for s in body["ice_servers"] if s.get("username"))
    expiry, owner = turn["username"].split(":")
    assert owner == str(user.id)
    assert abs(int(expiry) - (time.time() + 86_400)) < 60
    expected = base64.b64encode(
        hmac.new(TEST_TURN_SECRET.encode(), turn["username"].encode(), hashlib.sha1).digest()
    ).decode()
    assert turn["credential"] == expected
    assert (await client.get("/api/v1/voice/ice-servers")).status_code == 401


async def test_suppress_follows_speak_while_in_voice(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    quiet = await voice_channel(guilds, crew.id, crew.owner, "Quiet")
    url = f"/api/v1/channels/{quiet['id']}/permissions/{crew.id}"
    denied = await guilds.put(
        url,
        json={"target_kind": "role", "allow": 0, "deny": int(Permission.SPEAK)},
        headers=crew.owner.headers,
    )
    assert denied.status_code == 204
    joined = await join_voice(nats_client, namespace, crew.member, quiet["id"])
    assert joined.state is not None and joined.state.suppress
    lifted = await guilds.delete(url, headers=crew.owner.headers)
    assert lifted.status_code == 204

    async def may_speak() -> bool:
        (state,) = await _states(client, quiet["id"], crew.owner)
        return state["suppress"] is False

    await eventually(may_speak, what="suppress lifts when SPEAK comes back")
