"""Bad input never gets a 500, and never a look-alike account."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from harmoniq_common.testing.bad_input import refusal_mismatches

from auth_testing import PASSWORD, bearer, from_ip, register


async def test_every_route_refuses_bad_input_before_any_work(
    client: AsyncTestClient[Any],
) -> None:
    """NUL in every body field, query and path parameter, control characters in headers,
    invalid UTF-8, deep JSON and a non-JSON body: 400/415 naming the field, never a 500."""
    prober = await register(client, "prober")
    schema = (await client.get("/schema/openapi.json")).json()
    mismatches = await refusal_mismatches(client, schema, bearer(prober["access_token"]))
    assert not mismatches, "\n".join(mismatches)
    me = await client.get("/api/v1/auth/me", headers=bearer(prober["access_token"]))
    assert me.json()["username"] == "prober", "nothing was changed on the way"


def _registration(username: str, email: str) -> dict[str, str]:
    return {"username": username, "email": email, "password": PASSWORD}


async def test_a_username_with_a_trailing_newline_is_not_a_second_alice(
    client: AsyncTestClient[Any],
) -> None:
    """Python's $ matched before a final newline: "alice\\n" registered beside "alice" and
    logged in as the impostor."""
    await register(client, "alice")
    for number, username in enumerate(["alice\n", "\nalice", "alice\r\n", "ali\x00ce"]):
        response = await client.post(
            "/api/v1/auth/register",
            json=_registration(username, f"impostor{number}@example.com"),
            headers=from_ip(f"10.9.0.{number + 1}"),
        )
        assert response.status_code == 400, (username, response.text)
        assert response.json()["errors"][0]["field"] == "username"
    login = await client.post(
        "/api/v1/auth/login",
        json={"login": "alice\n", "password": PASSWORD},
        headers=from_ip("10.9.1.1"),
    )
    assert login.status_code == 400
    assert login.json()["errors"][0]["field"] == "login"


async def test_usernames_are_unique_whatever_their_case(client: AsyncTestClient[Any]) -> None:
    await register(client, "bob")
    taken = await client.post(
        "/api/v1/auth/register",
        json=_registration("BOB", "other-bob@example.com"),
        headers=from_ip("10.9.2.1"),
    )
    assert taken.status_code == 409, taken.text
    login = await client.post(
        "/api/v1/auth/login",
        json={"login": "Bob", "password": PASSWORD},
        headers=from_ip("10.9.2.2"),
    )
    assert login.json()["user"]["username"] == "bob"


async def test_an_address_with_nul_is_a_400_not_a_database_error(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json=_registration("carol", "ca\x00rol@example.com"),
        headers=from_ip("10.9.3.1"),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["field"] == "email"
