"""The messages API in DMs x every kind of caller: a participant; a member of a server the
participants share who is not in the DM (its owner: every permission there); a person a
participant blocked; a stranger; a bot in the shared server; anonymous. Only participants
get anything, and across a block nobody sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from harmoniq_common.ids import Snowflake
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, befriend, create_server, invite_and_join, open_dm
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
CALLERS = ("participant", "member", "blocked", "stranger", "bot", "anonymous")
BOOK = quote("📚")
M = "/api/v1/channels/{g}/messages"


def _only_participants(status: int) -> dict[str, int]:
    return {
        "participant": status,
        "member": 404,
        "blocked": 404,
        "stranger": 404,
        "bot": 404,
        "anonymous": 401,
    }


ROWS: list[tuple[str, str, str, dict[str, Any] | None, dict[str, int]]] = [
    ("send", "POST", M, {"content": "hi"}, _only_participants(201)),
    ("history", "GET", M, None, _only_participants(200)),
    ("get", "GET", M + "/{m}", None, _only_participants(200)),
    ("edit own", "PATCH", M + "/{mine}", {"content": "x"}, _only_participants(200)),
    ("edit other's", "PATCH", M + "/{m}", {"content": "x"}, _only_participants(403)),
    ("delete other's", "DELETE", M + "/{m}", None, _only_participants(403)),
    ("delete own", "DELETE", M + "/{mine}", None, _only_participants(204)),
    ("pin", "PUT", M + "/{m}/pin", None, _only_participants(204)),
    ("unpin", "DELETE", M + "/{m}/pin", None, _only_participants(204)),
    ("pins", "GET", M + "/pins", None, _only_participants(200)),
    ("bulk delete", "POST", M + "/bulk-delete", {"message_ids": ["{m}", "1"]}, _only_participants(403)),
    ("react", "PUT", M + "/{m}/reactions/" + BOOK + "/@me", None, _only_participants(204)),
    ("unreact", "DELETE", M + "/{m}/reactions/" + BOOK + "/@me", None, _only_participants(204)),
    # No MANAGE_MESSAGES in a DM: nobody removes another's reaction.
    ("remove other's reaction", "DELETE", M + "/{m}/reactions/" + BOOK + "/{o}", None, _only_participants(403)),
    ("reaction users", "GET", M + "/{m}/reactions/" + BOOK, None, _only_participants(200)),
    ("search", "GET", M + "/search?q=hi", None, _only_participants(200)),
    ("search as a server", "GET", "/api/v1/servers/{g}/messages/search?q=hi", None, {**_only_participants(404)}),
    ("ack", "POST", M + "/{m}/ack", None, _only_participants(200)),
    ("notify", "PUT", "/api/v1/users/@me/notification-settings/{g}", {"level": "nothing"}, _only_participants(200)),
    ("own notification settings", "GET", "/api/v1/users/@me/notification-settings", None, {**dict.fromkeys(CALLERS, 200), "anonymous": 401}),
    # The 1:1 DM across a block: still readable by both, written to by neither.
    ("send across a block", "POST", "/api/v1/channels/{b}/messages", {"content": "hi"}, {**_only_participants(403), "blocked": 403}),
    ("read across a block", "GET", "/api/v1/channels/{b}/messages", None, {**_only_participants(200), "blocked": 200}),
]  # fmt: skip


async def test_dm_routes_for_every_caller(
    client: Client, guilds: Client, auth_client: Client, make_user: MakeUser
) -> None:
    users = {name: await make_user(name) for name in ("owner", *CALLERS[:4])}
    owner, participant = users["owner"], users["participant"]
    made = await auth_client.post("/api/v1/bots", json={"username": "dmbot"}, headers=owner.headers)
    assert made.status_code == 201, made.text
    users["bot"] = TestUser(
        Snowflake(made.json()["bot"]["id"]), "dmbot", made.json()["token"], "Bot"
    )
    server = await create_server(guilds, users["member"])
    await invite_and_join(
        guilds, server, users["member"], owner, participant, users["blocked"], users["bot"]
    )
    await befriend(guilds, owner, participant)
    group = (await open_dm(guilds, owner, participant, users["member"]))["id"]
    left = await guilds.delete(
        f"/api/v1/users/@me/channels/{group}", headers=users["member"].headers
    )
    assert left.status_code == 204  # the member was in it once: that gives nothing now
    blocked_dm = (await open_dm(guilds, participant, users["blocked"]))["id"]
    await send(client, participant, blocked_dm, "before the block")
    block = await guilds.put(
        f"/api/v1/users/@me/relationships/{users['blocked'].id}",
        json={"kind": "blocked"},
        headers=participant.headers,
    )
    assert block.status_code == 200
    mismatches = []
    for name, method, template, body, expected in ROWS:
        for caller in CALLERS:
            theirs = await send(client, owner, group, "hi from the owner")
            mine = await send(client, participant, group, "hi from the participant")
            names = {
                "g": group,
                "b": blocked_dm,
                "m": theirs["id"],
                "mine": mine["id"],
                "o": str(owner.id),
            }
            if name == "remove other's reaction":
                reacted = await client.put(
                    f"/api/v1/channels/{group}/messages/{theirs['id']}/reactions/{BOOK}/@me",
                    headers=owner.headers,
                )
                assert reacted.status_code == 204, reacted.text
            headers = {} if caller == "anonymous" else users[caller].headers
            kwargs: dict[str, Any] = {"headers": headers}
            if body is not None:
                kwargs["json"] = {
                    k: ([v2.format(**names) for v2 in v] if isinstance(v, list) else v)
                    for k, v in body.items()
                }
            response = await client.request(method, template.format(**names), **kwargs)
            if response.status_code != expected[caller]:
                mismatches.append(
                    f"{name} as {caller}: {response.status_code} (expected {expected[caller]})"
                    f" {response.text[:100]}"
                )
    assert mismatches == []
    # Every route of the service is in the table (a new one must be added here too).
    routes = {
        (method, route.path)
        for route in client.app.routes
        if route.path.startswith("/api/")
        for method in getattr(route, "methods", ())
        if method not in ("HEAD", "OPTIONS")
    }
    assert routes == {(method, _route(template)) for _, method, template, _, _ in ROWS}


def _route(template: str) -> str:
    """A row's path as the app's route template."""
    path = template.split("?")[0].replace(BOOK, "{emoji:str}")
    for name, route in (
        ("servers/{g}", "servers/{server_id:str}"),
        ("{g}/messages", "{channel_id:str}/messages"),
        ("{b}/messages", "{channel_id:str}/messages"),
        ("notification-settings/{g}", "notification-settings/{scope_id:str}"),
        ("/{mine}", "/{message_id:str}"),
        ("/{m}", "/{message_id:str}"),
        ("/{o}", "/{user_id:str}"),
    ):
        path = path.replace(name, route)
    return path
