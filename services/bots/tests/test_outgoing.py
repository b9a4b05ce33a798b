"""Outgoing webhooks with the default settings: private, loopback and link-local targets are
refused when registered (the fleet test, with them allowed, shows deliveries)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, make_crew

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:9/hook", "must be https"),
        ("https://127.0.0.1/hook", "non-public"),
        ("https://localhost/hook", "non-public"),
        ("https://169.254.169.254/latest", "non-public"),
        ("https://10.0.0.7/hook", "non-public"),
        ("https://[::1]/hook", "non-public"),
    ],
)
async def test_a_private_target_is_refused_unless_the_setting_allows_it(
    client: Client, guilds: Client, make_user: MakeUser, url: str, why: str
) -> None:
    crew = await make_crew(guilds, make_user)
    response = await client.post(
        f"/api/v1/servers/{crew.id}/outgoing-webhooks",
        json={"url": url, "events": ["message.create"]},
        headers=crew.owner.headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "url_refused"
    assert why in response.text
    listed = await client.get(
        f"/api/v1/servers/{crew.id}/outgoing-webhooks", headers=crew.owner.headers
    )
    assert listed.json() == []


async def test_only_managers_register_endpoints(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    crew = await make_crew(guilds, make_user)
    response = await client.post(
        f"/api/v1/servers/{crew.id}/outgoing-webhooks",
        json={"url": "https://93.184.216.34/hook", "events": ["message.create"]},
        headers=crew.member.headers,
    )
    assert response.status_code == 403
    assert response.json()["code"] == "missing_permission"
