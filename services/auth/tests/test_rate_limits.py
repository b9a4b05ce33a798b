"""5 credential attempts per minute, per client and per account, with standard headers."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from auth_testing import PASSWORD, from_ip, register

Client = AsyncTestClient[Any]


async def _login(client: Client, login: str, ip: str, password: str = "wrong password") -> Any:
    return await client.post(
        "/api/v1/auth/login", json={"login": login, "password": password}, headers=from_ip(ip)
    )


async def test_sixth_attempt_from_one_client_is_429_with_retry_after(client: Client) -> None:
    remaining = []
    for attempt in range(5):
        response = await _login(client, f"user{attempt}@example.com", "10.5.0.1")
        assert response.status_code == 401
        assert response.headers["X-RateLimit-Limit"] == "5"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    blocked = await _login(client, "someone@example.com", "10.5.0.1")
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 12
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    # Another client is not affected.
    assert (await _login(client, "someone@example.com", "10.5.0.2")).status_code == 401


async def test_one_account_is_limited_across_clients(client: Client) -> None:
    """Spreading a password guess over many addresses does not escape the per-account limit."""
    await register(client, "alice", ip="10.6.0.100")
    for attempt in range(5):
        assert (await _login(client, "alice", f"10.6.0.{attempt}")).status_code == 401
    blocked = await _login(client, "ALICE", "10.6.0.50", password=PASSWORD)
    assert blocked.status_code == 429
    # A different account from a fresh address still gets through.
    assert (await _login(client, "bob", "10.6.0.51")).status_code == 401


async def test_the_account_is_counted_whichever_name_is_typed(client: Client) -> None:
    """Username or e-mail, in any case: five guesses at one account, then 429, even with the
    right password, even from a sixth address."""
    await register(client, "Dora", email="Dora@Example.com", ip="10.8.0.100")
    names = ["dora", "DORA@EXAMPLE.COM", "Dora", "dora@example.com", "dOrA"]
    for attempt, name in enumerate(names):
        assert (await _login(client, name, f"10.8.0.{attempt}")).status_code == 401, name
    blocked = await _login(client, "Dora@example.COM", "10.8.0.50", password=PASSWORD)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"


async def test_typing_an_accounts_id_does_not_spend_its_budget(client: Client) -> None:
    """Unknown names are counted per name, in their own key space: a string equal to a user id
    (a valid username no one has) does not lock that user out."""
    body = await register(client, "erin", ip="10.9.0.100")
    for attempt in range(5):
        response = await _login(client, body["user"]["id"], f"10.9.0.{attempt}")
        assert response.status_code == 401
    assert (await _login(client, body["user"]["id"], "10.9.0.60")).status_code == 429
    assert (await _login(client, "erin", "10.9.0.61", password=PASSWORD)).status_code == 200


async def test_register_is_limited_too(client: Client) -> None:
    for n in range(5):
        await register(client, f"user{n}", ip="10.7.0.1")
    response = await client.post(
        "/api/v1/auth/register",
        json={"username": "user9", "email": "user9@example.com", "password": PASSWORD},
        headers=from_ip("10.7.0.1"),
    )
    assert response.status_code == 429
    assert "Retry-After" in response.headers


async def test_untrusted_peers_cannot_choose_their_address(client: Client) -> None:
    """X-Real-IP is believed only from a trusted proxy; the test client is one, this is not."""
    from harmoniq_common.platform import _is_trusted

    assert _is_trusted("testclient", ["testclient"])
    assert _is_trusted("127.0.0.1", ["127.0.0.1", "::1"])
    assert not _is_trusted("10.0.0.1", ["127.0.0.1", "::1"])
