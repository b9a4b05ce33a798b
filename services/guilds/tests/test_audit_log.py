"""The audit log: who did what to whom and why; who may read it; the reason header; retention."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import asyncpg

from harmoniq_common.permissions import Permission
from harmoniq_common.testing.users import TestUser
from harmoniq_guilds.domain.audit import purge_expired

from guilds_testing import Client, Crew, join, make_crew, text_channel

MakeUser = Callable[..., Awaitable[TestUser]]


def _why(text: str) -> dict[str, str]:
    return {"X-Audit-Log-Reason": quote(text)}


async def _log(client: Client, crew: Crew, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(crew.url(f"/audit-log{query}"), headers=crew.owner.headers)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


async def test_actions_are_recorded_with_actor_target_and_reason(
    client: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(client, make_user)
    victim, outlaw = await make_user("victim"), await make_user("outlaw")
    await join(client, crew.code, victim, outlaw)
    start = (await _log(client, crew, "?limit=1"))[0]["id"]

    steps = [
        ("PATCH", crew.url(), {"name": "Renamed"}, crew.admin, "Rebrand ☕ café"),
        ("POST", crew.url("/roles"), {"name": "Helpers"}, crew.owner, None),
        ("POST", crew.url("/channels"), {"name": "news"}, crew.admin, "news / updates"),
        ("PATCH", crew.url(f"/members/{victim.id}"), {"nickname": "V"}, crew.moderator, None),
        ("DELETE", crew.url(f"/members/{victim.id}"), None, crew.moderator, "rude, twice"),
        ("PUT", crew.url(f"/bans/{outlaw.id}"), None, crew.moderator, "spam 100%"),
        ("DELETE", crew.url(f"/bans/{outlaw.id}"), None, crew.admin, "appeal accepted"),
    ]
    for method, url, body, actor, reason in steps:
        headers = {**actor.headers, **(_why(reason) if reason else {})}
        response = await client.request(method, url, json=body, headers=headers)
        assert response.status_code < 300, (url, response.text)
    helpers = next(
        r["id"]
        for r in (await client.get(crew.url("/roles"), headers=crew.owner.headers)).json()
        if r["name"] == "Helpers"
    )
    news = next(
        c["id"]
        for c in (await client.get(crew.url("/channels"), headers=crew.owner.headers)).json()
        if c["name"] == "news"
    )

    entries = [e for e in await _log(client, crew) if int(e["id"]) > int(start)]
    assert [
        (e["actor_id"], e["action"], e["target_id"], e["reason"]) for e in reversed(entries)
    ] == [
        (str(crew.admin.id), "server.update", crew.id, "Rebrand ☕ café"),
        (str(crew.owner.id), "role.create", helpers, None),
        (str(crew.admin.id), "channel.create", news, "news / updates"),
        (str(crew.moderator.id), "member.nickname", str(victim.id), None),
        (str(crew.moderator.id), "member.kick", str(victim.id), "rude, twice"),
        (str(crew.moderator.id), "member.ban", str(outlaw.id), "spam 100%"),
        (str(crew.admin.id), "member.unban", str(outlaw.id), "appeal accepted"),
    ]
    assert entries[-1]["changes"] == {"name": "Renamed"}
    assert entries[0]["created_at"] >= entries[-1]["created_at"]

    # Filters and the cursor.
    kicks = await _log(client, crew, "?action=member.kick")
    assert [e["target_id"] for e in kicks] == [str(victim.id)]
    by_moderator = await _log(client, crew, f"?actor_id={crew.moderator.id}")
    assert [e["action"] for e in by_moderator] == [
        "member.ban",
        "member.kick",
        "member.nickname",
        "member.join",  # by invite, in make_crew
    ]
    everything = await _log(client, crew)
    page = await _log(client, crew, f"?limit=3&before={everything[2]['id']}")
    assert page == everything[3:6]

    # VIEW_AUDIT_LOG: moderators and up; members no; strangers do not learn the server exists.
    stranger = await make_user("stranger")
    for user, status in (
        (crew.moderator, 200),
        (crew.admin, 200),
        (crew.member, 403),
        (stranger, 404),
    ):
        response = await client.get(crew.url("/audit-log"), headers=user.headers)
        assert response.status_code == status, user.name


async def test_a_too_long_reason_is_refused_before_anything_changes(
    client: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(client, make_user)
    before = await _log(client, crew)
    channel = await text_channel(client, crew.server, crew.owner)
    attempts = [
        ("PATCH", crew.url(), {"name": "Renamed"}),
        ("DELETE", crew.url(f"/members/{crew.member.id}"), None),
        ("PUT", crew.url(f"/bans/{crew.member.id}"), {}),
        ("POST", crew.url("/roles"), {"name": "x"}),
        ("PATCH", f"/api/v1/channels/{channel['id']}", {"name": "x"}),
        (
            "PUT",
            f"/api/v1/channels/{channel['id']}/permissions/{crew.id}",
            {"target_kind": "role", "deny": int(Permission.SEND_MESSAGES)},
        ),
    ]
    too_long = _why("é" * 513)  # characters, not bytes: 513 of them, URL-encoded
    for method, url, body in attempts:
        response = await client.request(
            method, url, json=body, headers={**crew.owner.headers, **too_long}
        )
        assert response.status_code == 400, (url, response.text)
        error = response.json()
        assert error["code"] == "invalid_request"
        assert error["errors"][0]["field"] == "X-Audit-Log-Reason"
    assert await _log(client, crew) == before
    detail = (await client.get(crew.url(), headers=crew.member.headers)).json()
    assert detail["name"] == "Guild"

    at_limit = await client.patch(
        crew.url(), json={"name": "Renamed"}, headers={**crew.owner.headers, **_why("é" * 512)}
    )
    assert at_limit.status_code == 200
    assert (await _log(client, crew, "?limit=1"))[0]["reason"] == "é" * 512


async def test_retention_purges_only_old_entries(
    client: Client, make_user: MakeUser, db: asyncpg.Pool
) -> None:
    crew = await make_crew(client, make_user)
    entries = await _log(client, crew)
    old = [int(e["id"]) for e in entries[-2:]]  # the server's creation and the first invite
    await db.execute(
        "UPDATE audit_log SET created_at = now() - interval '91 days' WHERE id = ANY($1)", old
    )
    assert await purge_expired(db, retention_days=90) == 2
    remaining = await _log(client, crew)
    assert [e["id"] for e in remaining] == [e["id"] for e in entries[:-2]]
    assert await purge_expired(db, retention_days=90) == 0
