"""Invites: options, the anonymous preview, joining, exhaustion, expiry, revocation, bans."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing.transport import TestClientTransport as SyncTransport
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.events import (
    InviteCreated,
    InviteDeleted,
    MemberJoined,
    MemberLeft,
    decode_payload,
)
from harmoniq_common.permissions import Permission
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually
from harmoniq_guilds.domain.invites import new_code

from guilds_testing import Client, create_server, make_crew, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]
CODE = re.compile(r"[A-Za-z0-9]{12}")


async def _invite(client: Client, channel_id: str, user: TestUser, **options: Any) -> Any:
    response = await client.post(
        f"/api/v1/channels/{channel_id}/invites", json=options, headers=user.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def _is_member(client: Client, server_id: str, user: TestUser) -> bool:
    response = await client.get(f"/api/v1/servers/{server_id}", headers=user.headers)
    assert response.status_code in (200, 404), response.text
    return response.status_code == 200


async def test_limited_invite_preview_join_and_exhaustion(
    client: Client, make_user: MakeUser, db: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    owner, ann, ben, cid = [await make_user(n) for n in ("olga", "ann", "ben", "cid")]
    server = await create_server(client, owner, "Book club")
    general = await text_channel(client, server, owner)
    before = datetime.now(UTC)
    invite = await _invite(
        client, general["id"], owner, max_uses=2, max_age_seconds=3600, temporary=True
    )
    assert CODE.fullmatch(invite["code"])
    assert invite["server"]["id"] == server["id"]
    assert (invite["channel_id"], invite["channel_name"]) == (general["id"], "general")
    assert (invite["creator_id"], invite["max_uses"], invite["uses"]) == (str(owner.id), 2, 0)
    assert invite["temporary"] is True
    expires = datetime.fromisoformat(invite["expires_at"])
    assert before + timedelta(seconds=3590) < expires < before + timedelta(seconds=3700)
    code = invite["code"]

    # Anyone, without an account, sees names and counts, and nobody's identity.
    preview = await client.get(f"/api/v1/invites/{code}")
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert set(body) == {
        "code",
        "server",
        "channel_id",
        "channel_name",
        "member_count",
        "expires_at",
        "temporary",
    }
    assert body["server"] == {
        "id": server["id"],
        "name": "Book club",
        "description": None,
        "icon_id": None,
        "icon_url": None,
    }
    assert (body["member_count"], body["channel_name"]) == (1, "general")
    assert str(owner.id) not in preview.text

    # Two uses: ann by the invite's own path, ben by the server's join path.
    joined = await client.post(f"/api/v1/invites/{code}", headers=ann.headers)
    assert joined.status_code == 200, joined.text
    assert joined.json()["id"] == server["id"]
    # Joining again is harmless: same answer, no use taken, no second announcement.
    again = await client.post(f"/api/v1/invites/{code}", headers=ann.headers)
    assert again.status_code == 200
    assert again.json()["id"] == server["id"]
    joined = await client.post(
        f"/api/v1/servers/{server['id']}/join", json={"code": code}, headers=ben.headers
    )
    assert joined.status_code == 200, joined.text

    # Used up: gone for previews and for joining.
    assert (await client.get(f"/api/v1/invites/{code}")).status_code == 404
    refused = await client.post(f"/api/v1/invites/{code}", headers=cid.headers)
    assert (refused.status_code, refused.json()["code"]) == (404, "unknown_invite")
    assert not await _is_member(client, server["id"], cid)
    detail = (await client.get(f"/api/v1/servers/{server['id']}", headers=owner.headers)).json()
    assert detail["member_count"] == 3

    temporary = await db.fetch(
        "SELECT user_id, temporary FROM members WHERE server_id = $1", int(server["id"])
    )
    assert {r["user_id"]: r["temporary"] for r in temporary} == {
        owner.id: False,
        ann.id: True,
        ben.id: True,
    }

    subjects = Subjects(namespace)
    envelopes = await collect_events(
        nats_client, namespace, subjects.server_event(int(server["id"]), "member.joined"), count=2
    )
    joiners = [decode_payload(e) for e in envelopes]
    assert all(isinstance(j, MemberJoined) for j in joiners)
    assert [j.member.user.id for j in joiners if isinstance(j, MemberJoined)] == [ann.id, ben.id]
    # The joiner hears of it too (their gateway sessions start following the server).
    [mine] = await collect_events(
        nats_client, namespace, subjects.user_event(ann.id, "member.joined"), count=1
    )
    assert isinstance(decode_payload(mine), MemberJoined)


async def test_listing_expiry_and_revocation(
    client: Client, make_user: MakeUser, db: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(client, make_user)
    stranger = await make_user("stranger")
    channel = await text_channel(client, crew.server, crew.owner)
    by_owner = (await _invite(client, channel["id"], crew.owner))["code"]
    by_member = (await _invite(client, channel["id"], crew.member, max_age_seconds=None))["code"]
    also_by_member = (await _invite(client, channel["id"], crew.member))["code"]

    # Listing needs MANAGE_SERVER; strangers do not learn the server exists.
    for user, status in (
        (crew.member, 403),
        (crew.moderator, 403),
        (stranger, 404),
        (crew.admin, 200),
    ):
        listed = await client.get(crew.url("/invites"), headers=user.headers)
        assert listed.status_code == status, (user.name, listed.text)
    listed = (await client.get(crew.url("/invites"), headers=crew.owner.headers)).json()
    by_code = {i["code"]: i for i in listed}
    assert set(by_code) == {crew.code, by_owner, by_member, also_by_member}
    assert by_code[by_member]["creator_id"] == str(crew.member.id)
    assert by_code[by_member]["expires_at"] is None
    assert by_code[crew.code]["uses"] == 3  # admin, moderator, member

    # An expired invite is refused and no longer listed (expiry is set in the past directly
    # rather than waited for: the shortest allowed lifetime is a minute).
    await db.execute(
        "UPDATE invites SET expires_at = now() - interval '1 second' WHERE code = $1", by_owner
    )
    assert (await client.get(f"/api/v1/invites/{by_owner}")).status_code == 404
    assert (
        await client.post(f"/api/v1/invites/{by_owner}", headers=stranger.headers)
    ).status_code == 404
    assert not await _is_member(client, crew.id, stranger)
    listed = (await client.get(crew.url("/invites"), headers=crew.owner.headers)).json()
    assert by_owner not in {i["code"] for i in listed}

    # Revoking: the creator, or MANAGE_SERVER; nobody else, and strangers get 404.
    for user, status in ((crew.moderator, 403), (stranger, 404)):
        refused = await client.delete(f"/api/v1/invites/{by_member}", headers=user.headers)
        assert refused.status_code == status, (user.name, refused.text)
    revoke = await client.delete(f"/api/v1/invites/{by_member}", headers=crew.member.headers)
    assert revoke.status_code == 204
    assert (
        await client.delete(f"/api/v1/invites/{by_member}", headers=crew.member.headers)
    ).status_code == 404
    revoke = await client.delete(f"/api/v1/invites/{also_by_member}", headers=crew.admin.headers)
    assert revoke.status_code == 204
    for code in (by_member, also_by_member):
        assert (await client.get(f"/api/v1/invites/{code}")).status_code == 404
        joined = await client.post(f"/api/v1/invites/{code}", headers=stranger.headers)
        assert joined.status_code == 404
    assert not await _is_member(client, crew.id, stranger)

    subjects = Subjects(namespace)
    created = await collect_events(
        nats_client, namespace, subjects.server_event(int(crew.id), "invite.created"), count=4
    )
    payload = decode_payload(created[2])
    assert isinstance(payload, InviteCreated)
    assert (payload.code, payload.creator_id, payload.expires_at) == (
        by_member,
        crew.member.id,
        None,
    )
    deleted = await collect_events(
        nats_client, namespace, subjects.server_event(int(crew.id), "invite.deleted"), count=2
    )
    codes = [p.code for p in map(decode_payload, deleted) if isinstance(p, InviteDeleted)]
    assert codes == [by_member, also_by_member]


async def test_a_banned_user_cannot_rejoin_by_any_invite(
    client: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(client, make_user)
    never_joined = await make_user("never")
    channel = await text_channel(client, crew.server, crew.owner)
    older = (await _invite(client, channel["id"], crew.owner))["code"]
    for user in (crew.member, never_joined):  # a member, and a pre-emptive ban
        banned = await client.put(
            crew.url(f"/bans/{user.id}"), json={"reason": "spam"}, headers=crew.owner.headers
        )
        assert banned.status_code == 204, banned.text
    newer = (await _invite(client, channel["id"], crew.owner))["code"]
    for user in (crew.member, never_joined):
        for code in (crew.code, older, newer):
            refused = await client.post(f"/api/v1/invites/{code}", headers=user.headers)
            assert (refused.status_code, refused.json()["code"]) == (403, "banned")
            refused = await client.post(
                crew.url("/join"), json={"code": code}, headers=user.headers
            )
            assert (refused.status_code, refused.json()["code"]) == (403, "banned")
        assert not await _is_member(client, crew.id, user)
    # No use was taken by the refused attempts.
    listed = (await client.get(crew.url("/invites"), headers=crew.owner.headers)).json()
    assert {i["code"]: i["uses"] for i in listed}[newer] == 0

    unbanned = await client.delete(crew.url(f"/bans/{crew.member.id}"), headers=crew.owner.headers)
    assert unbanned.status_code == 204
    rejoined = await client.post(f"/api/v1/invites/{newer}", headers=crew.member.headers)
    assert rejoined.status_code == 200
    assert await _is_member(client, crew.id, crew.member)


async def test_invite_codes_and_who_may_create_them(client: Client, make_user: MakeUser) -> None:
    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000  # ~71 bits each: a collision here would mean a broken generator
    assert all(CODE.fullmatch(c) for c in codes)
    # Every character of the alphabet shows up: upper, lower and digits are all in use.
    assert {ch for c in codes for ch in c} == set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    )

    crew = await make_crew(client, make_user)
    other_owner = await make_user("elsewhere")
    other = await create_server(client, other_owner, "Elsewhere")
    channel = await text_channel(client, crew.server, crew.owner)

    for bad in ("not-a-code", "é" * 3, "x" * 33):
        assert (await client.get(f"/api/v1/invites/{bad}")).status_code == 400
    unknown = await client.get(f"/api/v1/invites/{'Z' * 12}")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_invite")
    # A code of one server does not open another.
    wrong = await client.post(
        f"/api/v1/servers/{other['id']}/join",
        json={"code": crew.code},
        headers=crew.member.headers,
    )
    assert wrong.status_code == 404
    assert not await _is_member(client, other["id"], crew.member)

    # Never expiring, unlimited.
    forever = await _invite(client, channel["id"], crew.member, max_age_seconds=None)
    assert (forever["expires_at"], forever["max_uses"]) == (None, None)

    # CREATE_INVITES in the channel: an overwrite can take it away.
    denied = await client.put(
        f"/api/v1/channels/{channel['id']}/permissions/{crew.id}",
        json={"target_kind": "role", "deny": int(Permission.CREATE_INVITES)},
        headers=crew.owner.headers,
    )
    assert denied.status_code == 204, denied.text
    refused = await client.post(
        f"/api/v1/channels/{channel['id']}/invites", json={}, headers=crew.member.headers
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "missing_permission")
    # Outsiders and hidden channels: 404, as if the channel did not exist.
    assert (
        await client.post(
            f"/api/v1/channels/{channel['id']}/invites", json={}, headers=other_owner.headers
        )
    ).status_code == 404
    hidden = await client.put(
        f"/api/v1/channels/{channel['id']}/permissions/{crew.id}",
        json={"target_kind": "role", "deny": int(Permission.VIEW_CHANNEL)},
        headers=crew.owner.headers,
    )
    assert hidden.status_code == 204
    refused = await client.post(
        f"/api/v1/channels/{channel['id']}/invites", json={}, headers=crew.member.headers
    )
    assert (refused.status_code, refused.json()["code"]) == (404, "unknown_channel")


async def _joins_at_once(
    client: Client, db: asyncpg.Pool, code: str | list[str], users: list[TestUser]
) -> list[int]:
    """Join requests that really overlap: while the test holds the invites' row locks, every
    request is sent (each from a thread of its own: the test client's transport handles one
    request at a time) and gets as far as it can; the locks are let go once all of them wait.
    ``code``: one invite for all, or one per user."""
    codes = code if isinstance(code, list) else [code] * len(users)
    transport = SyncTransport(client)
    requests = [
        client.build_request("POST", f"/api/v1/invites/{c}", headers=u.headers)
        for c, u in zip(codes, users, strict=True)
    ]
    async with db.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT 1 FROM invites WHERE code = ANY($1::text[]) FOR UPDATE", sorted(set(codes))
        )
        sending = asyncio.gather(
            *(asyncio.to_thread(transport.handle_request, r) for r in requests)
        )

        async def all_waiting() -> bool:
            waiting = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return bool(waiting == len(users))

        await eventually(all_waiting, what="every join waiting on a lock")
    return [r.status_code for r in await sending]


async def test_concurrent_joins_take_one_use_each(
    client: Client, make_user: MakeUser, db: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    owner, ann, ben, cid = [await make_user(n) for n in ("olga", "ann", "ben", "cid")]
    server = await create_server(client, owner)
    general = await text_channel(client, server, owner)
    twice = (await _invite(client, general["id"], owner, max_uses=2))["code"]
    last = (await _invite(client, general["id"], owner, max_uses=1))["code"]

    # The same user twice at once: one membership, one use, one announcement.
    assert await _joins_at_once(client, db, twice, [ann, ann]) == [200, 200]
    # Two users racing for the last use: one gets in, the other is refused and not a member.
    assert sorted(await _joins_at_once(client, db, last, [ben, cid])) == [200, 404]

    uses = await db.fetch("SELECT code, uses FROM invites WHERE server_id = $1", int(server["id"]))
    assert {r["code"]: r["uses"] for r in uses} == {twice: 1, last: 1}
    members = await db.fetchval(
        "SELECT count(*) FROM members WHERE server_id = $1", int(server["id"])
    )
    assert members == 3
    joined = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).server_event(int(server["id"]), "member.joined"),
        count=2,
    )
    assert len(joined) == 2


async def test_concurrent_joins_announce_exact_member_counts(
    client: Client, make_user: MakeUser, db: asyncpg.Pool, nats_client: NatsClient, namespace: str
) -> None:
    """Through different invites nothing else makes them take turns: each announcement still
    states the count with that member, in stream order (a client sets it, never adds one)."""
    owner, *joiners = [await make_user(n) for n in ("olga", "ann", "ben", "cid")]
    server = await create_server(client, owner)
    general = await text_channel(client, server, owner)
    codes = [(await _invite(client, general["id"], owner))["code"] for _ in joiners]
    assert await _joins_at_once(client, db, codes, joiners) == [200, 200, 200]
    joined = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).server_event(int(server["id"]), "member.joined"),
        count=3,
    )
    payloads = [decode_payload(e) for e in joined]
    assert [p.member_count for p in payloads if isinstance(p, MemberJoined)] == [2, 3, 4]
    kicked = await client.delete(
        f"/api/v1/servers/{server['id']}/members/{joiners[0].id}", headers=owner.headers
    )
    assert kicked.status_code == 204
    [left] = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).server_event(int(server["id"]), "member.left"),
        count=1,
    )
    payload = decode_payload(left)
    assert isinstance(payload, MemberLeft) and payload.member_count == 3
