"""Members: the paginated list, nicknames, kicks, leaving, bans and their events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.events import (
    BanAdded,
    BanRemoved,
    MemberLeft,
    MemberUpdated,
    decode_payload,
)
from harmoniq_common.permissions import DEFAULT_MEMBER, Permission
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, Crew, join, make_crew

MakeUser = Callable[..., Awaitable[TestUser]]


async def _ids(client: Client, crew: Crew, query: str) -> list[str]:
    response = await client.get(crew.url(f"/members{query}"), headers=crew.member.headers)
    assert response.status_code == 200, response.text
    return [m["user"]["id"] for m in response.json()]


async def test_members_are_listed_by_id_in_pages(client: Client, make_user: MakeUser) -> None:
    crew = await make_crew(client, make_user)
    extra = await make_user("extra")
    await join(client, crew.code, extra)
    everyone = sorted(
        (str(u.id) for u in (crew.owner, crew.admin, crew.moderator, crew.member, extra)), key=int
    )
    first = await _ids(client, crew, "?limit=2")
    second = await _ids(client, crew, f"?limit=2&after={first[-1]}")
    third = await _ids(client, crew, f"?limit=2&after={second[-1]}")
    assert (first, second, third) == (everyone[:2], everyone[2:4], everyone[4:])
    assert await _ids(client, crew, f"?after={third[-1]}") == []
    assert await _ids(client, crew, "") == everyone

    me = await client.get(crew.url("/members/@me"), headers=crew.moderator.headers)
    assert me.status_code == 200
    moderator_role = next(
        r["id"]
        for r in (await client.get(crew.url("/roles"), headers=crew.owner.headers)).json()
        if r["name"] == "moderator"
    )
    assert (me.json()["user"]["id"], me.json()["roles"]) == (
        str(crew.moderator.id),
        [moderator_role],
    )
    other = await client.get(crew.url(f"/members/{extra.id}"), headers=crew.member.headers)
    assert (other.status_code, other.json()["roles"]) == (200, [])
    unknown = await client.get(crew.url("/members/42"), headers=crew.member.headers)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_member")
    for bad in ("?limit=0", "?limit=1001", "?after=abc"):
        response = await client.get(crew.url(f"/members{bad}"), headers=crew.member.headers)
        assert response.status_code == 400, bad


async def test_nicknames_own_and_others(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(client, make_user)

    async def rename(actor: TestUser, target: TestUser | str, nickname: str | None) -> int:
        who = target if isinstance(target, str) else str(target.id)
        response = await client.patch(
            crew.url(f"/members/{who}"), json={"nickname": nickname}, headers=actor.headers
        )
        return response.status_code

    assert await rename(crew.member, "@me", "Memo") == 200
    assert await rename(crew.member, crew.member, "Memo 2") == 200
    assert await rename(crew.member, crew.moderator, "Boss") == 403  # MANAGE_NICKNAMES
    assert await rename(crew.moderator, crew.member, "Renamed") == 200
    assert await rename(crew.moderator, crew.admin, "Nope") == 403  # above the moderator
    assert await rename(crew.admin, crew.owner, "Nope") == 403  # nobody renames the owner
    assert await rename(crew.owner, crew.admin, "Second") == 200
    assert await rename(crew.owner, "@me", "Boss") == 200
    shown = (await client.get(crew.url("/members"), headers=crew.member.headers)).json()
    nicknames = {m["user"]["id"]: m["nickname"] for m in shown}
    assert nicknames == {
        str(crew.owner.id): "Boss",
        str(crew.admin.id): "Second",
        str(crew.moderator.id): None,
        str(crew.member.id): "Renamed",
    }

    # Own nickname needs CHANGE_NICKNAME, which the default role has until it is taken away.
    taken = await client.patch(
        crew.url(f"/roles/{crew.id}"),
        json={"permissions": int(DEFAULT_MEMBER & ~Permission.CHANGE_NICKNAME)},
        headers=crew.owner.headers,
    )
    assert taken.status_code == 200, taken.text
    assert await rename(crew.member, "@me", None) == 403
    assert await rename(crew.moderator, crew.member, None) == 200  # null clears

    subjects = Subjects(namespace)
    envelopes = await collect_events(
        nats_client, namespace, subjects.server_event(int(crew.id), "member.updated"), count=8
    )
    # Two role grants by make_crew, then the six accepted renames.
    updates = [p for p in map(decode_payload, envelopes) if isinstance(p, MemberUpdated)]
    assert [u.member.nickname for u in updates[2:]] == [
        "Memo",
        "Memo 2",
        "Renamed",
        "Second",
        "Boss",
        None,
    ]


async def test_kick_needs_the_permission_and_the_hierarchy(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(client, make_user)
    victim = await make_user("victim")
    await join(client, crew.code, victim)

    async def kick(actor: TestUser, target: TestUser, **headers: str) -> tuple[int, str]:
        response = await client.delete(
            crew.url(f"/members/{target.id}"), headers={**actor.headers, **headers}
        )
        return response.status_code, response.json()["code"] if response.content else ""

    assert await kick(crew.member, victim) == (403, "missing_permission")
    assert await kick(crew.moderator, crew.admin) == (403, "role_hierarchy")
    assert await kick(crew.moderator, crew.moderator) == (400, "cannot_kick_self")
    assert await kick(crew.admin, crew.owner) == (403, "role_hierarchy")
    unknown = await client.delete(crew.url("/members/42"), headers=crew.owner.headers)
    assert unknown.status_code == 404
    assert await kick(crew.moderator, victim, **{"X-Audit-Log-Reason": "rude"}) == (204, "")
    assert (await client.get(crew.url(), headers=victim.headers)).status_code == 404
    assert str(victim.id) not in await _ids(client, crew, "")
    assert await kick(crew.moderator, victim) == (404, "unknown_member")

    # A kick is not a ban: the door stays open.
    await join(client, crew.code, victim)
    # Leaving: anyone but the owner.
    left = await client.delete(crew.url("/members/@me"), headers=victim.headers)
    assert left.status_code == 204
    refused = await client.delete(crew.url("/members/@me"), headers=crew.owner.headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "owner_cannot_leave")

    envelopes = await collect_events(
        nats_client,
        namespace,
        Subjects(namespace).server_event(int(crew.id), "member.left"),
        count=2,
    )
    left_events = [p for p in map(decode_payload, envelopes) if isinstance(p, MemberLeft)]
    assert [(e.user_id, e.reason) for e in left_events] == [
        (victim.id, "kicked"),
        (victim.id, "left"),
    ]


async def test_bans_with_reason_and_message_deletion(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(client, make_user)
    victim, stranger = await make_user("victim"), await make_user("stranger")
    await join(client, crew.code, victim)

    async def ban(actor: TestUser, target: TestUser, body: dict[str, object] | None) -> int:
        response = await client.put(
            crew.url(f"/bans/{target.id}"), json=body, headers=actor.headers
        )
        return response.status_code

    assert await ban(crew.member, victim, {}) == 403
    assert await ban(crew.moderator, crew.admin, {}) == 403
    assert await ban(crew.admin, crew.owner, {}) == 403
    assert await ban(crew.moderator, crew.moderator, {}) == 400
    assert await ban(crew.moderator, victim, {"delete_message_seconds": 604_801}) == 400
    assert (await client.get(crew.url(), headers=victim.headers)).status_code == 200
    assert (
        await ban(crew.moderator, victim, {"reason": "spam", "delete_message_seconds": 3600}) == 204
    )
    assert (await client.get(crew.url(), headers=victim.headers)).status_code == 404
    # Someone who never joined can be banned ahead of time, with no body at all.
    assert await ban(crew.owner, stranger, None) == 204

    assert (await client.get(crew.url("/bans"), headers=crew.member.headers)).status_code == 403
    bans = (await client.get(crew.url("/bans"), headers=crew.moderator.headers)).json()
    assert {b["user_id"]: (b["reason"], b["banned_by"]) for b in bans} == {
        str(victim.id): ("spam", str(crew.moderator.id)),
        str(stranger.id): (None, str(crew.owner.id)),
    }
    first_id = min(victim.id, stranger.id)
    page = (await client.get(crew.url("/bans?limit=1"), headers=crew.owner.headers)).json()
    assert [b["user_id"] for b in page] == [str(first_id)]
    page = (
        await client.get(crew.url(f"/bans?limit=1&after={first_id}"), headers=crew.owner.headers)
    ).json()
    assert [b["user_id"] for b in page] == [str(max(victim.id, stranger.id))]

    assert (
        await client.delete(crew.url(f"/bans/{victim.id}"), headers=crew.member.headers)
    ).status_code == 403
    unbanned = await client.delete(crew.url(f"/bans/{victim.id}"), headers=crew.moderator.headers)
    assert unbanned.status_code == 204
    again = await client.delete(crew.url(f"/bans/{victim.id}"), headers=crew.moderator.headers)
    assert (again.status_code, again.json()["code"]) == (404, "unknown_ban")
    bans = (await client.get(crew.url("/bans"), headers=crew.moderator.headers)).json()
    assert [b["user_id"] for b in bans] == [str(stranger.id)]

    subjects = Subjects(namespace)
    added = [
        decode_payload(e)
        for e in await collect_events(
            nats_client, namespace, subjects.server_event(int(crew.id), "ban.added"), count=2
        )
    ]
    assert added == [
        BanAdded(
            server_id=crew.server_id,
            user_id=victim.id,
            reason="spam",
            delete_messages_seconds=3600,
        ),
        BanAdded(
            server_id=crew.server_id, user_id=stranger.id, reason=None, delete_messages_seconds=0
        ),
    ]
    [removed] = await collect_events(
        nats_client, namespace, subjects.server_event(int(crew.id), "ban.removed"), count=1
    )
    assert decode_payload(removed) == BanRemoved(server_id=crew.server_id, user_id=victim.id)
    # Only the member was removed: the stranger never was one.
    [left] = await collect_events(
        nats_client, namespace, subjects.server_event(int(crew.id), "member.left"), count=1
    )
    assert decode_payload(left) == MemberLeft(
        server_id=crew.server_id, user_id=victim.id, reason="banned", member_count=4
    )  # the crew of four, without the victim
