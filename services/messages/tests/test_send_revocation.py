"""Sending checks revocation in its own Redis call (with the rate limit and the access
cache), not in the middleware: a revoked token is still refused on every send, at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Litestar

from harmoniq_common.auth import REVOCATION_IN_HANDLER, now_ms
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_common.testing.tokens import access_token
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, invite_and_join, text_channel
from messages_testing import history, send

MakeUser = Callable[..., Awaitable[TestUser]]


async def _room(guilds: Client, make_user: MakeUser) -> tuple[TestUser, dict[str, Any], str]:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    return owner, server, (await text_channel(guilds, server, owner))["id"]


async def _post(client: Client, headers: dict[str, str], channel_id: str, content: str) -> int:
    response = await client.post(
        f"/api/v1/channels/{channel_id}/messages", json={"content": content}, headers=headers
    )
    if response.status_code == 401:
        assert response.json()["code"] == "token_revoked"
    return response.status_code


async def test_a_token_revoked_with_all_its_users_sessions_cannot_send(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, server, channel_id = await _room(guilds, make_user)
    member = await make_user("max")
    await invite_and_join(guilds, server, owner, member)
    await send(client, member, channel_id, "before")
    marks = client.app.state.platform.marks
    client.blocking_portal.call(marks.revoke_user, member.id, now_ms() + 1, 3600)
    assert await _post(client, member.headers, channel_id, "after") == 401
    assert await _post(client, owner.headers, channel_id, "others still can") == 201
    assert [m["content"] for m in await history(client, owner, channel_id)] == [
        "others still can",
        "before",
    ]


async def test_a_logged_out_session_cannot_send_while_another_one_can(
    client: Client, guilds: Client, make_user: MakeUser, harmoniq_keys: KeyFiles
) -> None:
    owner, _, channel_id = await _room(guilds, make_user)
    kept = {"Authorization": f"Bearer {access_token(harmoniq_keys, owner.id, session_id=71)}"}
    gone = {"Authorization": f"Bearer {access_token(harmoniq_keys, owner.id, session_id=72)}"}
    assert await _post(client, gone, channel_id, "from the laptop") == 201
    client.blocking_portal.call(client.app.state.platform.marks.revoke_session, 72, 3600)
    assert await _post(client, gone, channel_id, "after logging out") == 401
    assert await _post(client, kept, channel_id, "from the phone") == 201


async def test_no_send_while_redis_lacks_the_revocation_state(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner, _, channel_id = await _room(guilds, make_user)
    marks = client.app.state.platform.marks
    state = client.blocking_portal.call(marks._redis.get, marks.state_key)
    client.blocking_portal.call(marks._redis.delete, marks.state_key)
    try:
        refused = await client.post(
            f"/api/v1/channels/{channel_id}/messages",
            json={"content": "x"},
            headers=owner.headers,
        )
    finally:
        client.blocking_portal.call(marks._redis.set, marks.state_key, state)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert await history(client, owner, channel_id) == []


def test_only_the_send_route_checks_revocation_in_its_handler(client: Client) -> None:
    """Every route so marked must ask the revocation script before any work: adding one is a
    decision to review, so this list is exact."""
    app: Litestar = client.app
    marked = {
        handler.operation_id
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        if handler.opt.get(REVOCATION_IN_HANDLER)
    }
    assert marked == {"sendMessage"}
