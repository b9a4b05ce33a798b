"""Bad input on the read-state and notification-setting payloads: a 400, nothing written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]
SETTINGS = "/api/v1/users/@me/notification-settings"

BAD: list[tuple[str, str, Any]] = [
    ("PUT", SETTINGS + "/{s}", {"level": "loud"}),
    ("PUT", SETTINGS + "/{s}", {"level": "all\u0000"}),
    ("PUT", SETTINGS + "/{s}", {"muted_until": "tomorrow"}),
    ("PUT", SETTINGS + "/{s}", {"muted_until": "2030-01-01T00:00:00"}),  # no zone
    ("PUT", SETTINGS + "/{s}", {"level": "all", "extra": True}),
    ("PUT", SETTINGS + "/{s}", ["all"]),
    ("PUT", SETTINGS + "/0", {"level": "all"}),
    ("PUT", SETTINGS + "/1%00", {"level": "all"}),
    ("PUT", SETTINGS + "/{s}", {"muted_until": "2030-01-01T00:00:00Z" + "0" * 10_000}),
    ("PUT", SETTINGS + "/{s}", {"level": "x" * 100_000}),
    ("POST", "/api/v1/channels/{c}/messages/0/ack", None),
    ("POST", "/api/v1/channels/{c}/messages/abc/ack", None),
    ("POST", "/api/v1/channels/{c}/messages/99999999999999999999999/ack", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD)
async def test_bad_payloads_are_400(
    client: Client, guilds: Client, make_user: MakeUser, method: str, path: str, body: Any
) -> None:
    me = await make_user("nora")
    server = await create_server(guilds, me)
    channel = (await text_channel(guilds, server, me))["id"]
    await send(client, me, channel, "hi")
    url = path.format(s=server["id"], c=channel)
    response = await client.request(method, url, json=body, headers=me.headers)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"code", "message", "errors"}
    assert (await client.get(SETTINGS, headers=me.headers)).json() == []


async def test_invalid_utf8_is_400(client: Client, guilds: Client, make_user: MakeUser) -> None:
    me = await make_user("nora")
    server = await create_server(guilds, me)
    response = await client.put(
        f"{SETTINGS}/{server['id']}",
        content=b'{"level": "\xff\xfe"}',
        headers={**me.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert (await client.get(SETTINGS, headers=me.headers)).json() == []
