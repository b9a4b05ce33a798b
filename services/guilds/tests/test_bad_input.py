"""Every route refuses bad bytes before any work: 400/415 naming the field, never a 500."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from harmoniq_common.testing.bad_input import refusal_mismatches
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_every_route_refuses_bad_input_before_any_work(
    client: Client, make_user: MakeUser
) -> None:
    prober = await make_user()
    schema = (await client.get("/schema/openapi.json")).json()
    mismatches = await refusal_mismatches(client, schema, prober.headers)
    assert not mismatches, "\n".join(mismatches)
    listed = await client.get("/api/v1/servers", headers=prober.headers)
    assert listed.json() == [], "nothing was created on the way"


async def test_names_refuse_control_characters_and_trailing_newlines(
    client: Client, make_user: MakeUser
) -> None:
    owner = await make_user()
    for name in ("Guild\n", "Gu\x1bild", "Guild\x85", "\tGuild"):
        response = await client.post("/api/v1/servers", json={"name": name}, headers=owner.headers)
        assert response.status_code == 400, (name, response.text)
        assert response.json()["errors"][0]["field"] == "name"
    server = await create_server(client, owner, "Fine ünïcødé 名前")
    assert server["name"] == "Fine ünïcødé 名前"


async def test_an_audit_reason_with_nul_or_a_line_break_is_a_400(
    client: Client, make_user: MakeUser
) -> None:
    """``X-Audit-Log-Reason`` is URL-encoded, so %00 decodes to a NUL Postgres cannot store."""
    owner, member = await make_user(), await make_user()
    server = await create_server(client, owner)
    for reason in ("spam%00", quote("spam\nforged: entry")):
        response = await client.put(
            f"/api/v1/servers/{server['id']}/bans/{member.id}",
            json={},
            headers={**owner.headers, "X-Audit-Log-Reason": reason},
        )
        assert response.status_code == 400, response.text
        assert response.json()["errors"][0]["field"] == "X-Audit-Log-Reason"
    bans = await client.get(f"/api/v1/servers/{server['id']}/bans", headers=owner.headers)
    assert bans.json() == []
