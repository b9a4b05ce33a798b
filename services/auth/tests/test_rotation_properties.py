"""Refresh-token rotation as a property: any sequence of logins, refreshes (with the latest
token or an old one), logouts and logouts-everywhere keeps the invariants, checked through
the API and in Postgres after every step:

- a live session (family) has exactly one usable refresh token, its latest; a dead one none;
- presenting a rotated token again kills its family (``refresh_token_reused``), and nothing
  of a dead family works again: its refresh tokens, its access tokens;
- one family's fate never touches another's, except logout-all, which ends them all.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import msgspec
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from harmoniq_auth.app import create_app
from harmoniq_auth.domain.tokens import hash_refresh_token
from harmoniq_auth.settings import AuthSettings

from auth_testing import PASSWORD, bearer, from_ip, register

Client = AsyncTestClient[Any]


@dataclass
class Family:
    """One login and its rotations, as the model expects them."""

    refresh_tokens: list[str]
    access_token: str
    alive: bool = True


@dataclass
class Model:
    families: list[Family] = field(default_factory=list)

    def pick(self, index: int) -> Family | None:
        return self.families[index % len(self.families)] if self.families else None


@dataclass(frozen=True)
class Login:
    pass


@dataclass(frozen=True)
class Refresh:
    family: int
    age: int  # 0: the family's latest token; n: the one n rotations before it


@dataclass(frozen=True)
class Logout:
    family: int
    everywhere: bool


operations = st.lists(
    st.one_of(
        st.just(Login()),
        st.builds(Refresh, family=st.integers(0, 3), age=st.sampled_from([0, 0, 0, 1, 2])),
        st.builds(Logout, family=st.integers(0, 3), everywhere=st.booleans()),
    ),
    min_size=1,
    max_size=12,
)


@pytest_asyncio.fixture(loop_scope="session")
async def client(auth_settings: AuthSettings) -> AsyncIterator[Client]:
    """Without the login and token rate limits: the examples log in and refresh a lot."""
    unlimited = msgspec.structs.replace(
        auth_settings, auth_rate_limit=10**6, token_rate_limit=10**6
    )
    async with AsyncTestClient(create_app(unlimited)) as test_client:
        yield test_client


@pytest_asyncio.fixture(loop_scope="session")
async def database(auth_settings: AuthSettings) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(auth_settings.database_url)
    yield conn
    await conn.close()


_users = itertools.count()


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=operations)
async def test_any_sequence_keeps_one_live_token_per_family(
    client: Client, database: asyncpg.Connection, steps: list[Login | Refresh | Logout]
) -> None:
    name = f"rot{next(_users)}"
    registered = await register(client, name, ip="10.9.0.1")
    model = Model([Family([registered["refresh_token"]], registered["access_token"])])
    for step in steps:
        await _apply(client, model, name, step)
        await _check(client, database, model)


async def _apply(client: Client, model: Model, name: str, step: Login | Refresh | Logout) -> None:
    if isinstance(step, Login):
        response = await client.post(
            "/api/v1/auth/login",
            json={"login": name, "password": PASSWORD},
            headers=from_ip("10.9.0.2"),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        model.families.append(Family([body["refresh_token"]], body["access_token"]))
        return
    family = model.pick(step.family)
    assert family is not None  # registering opened the first
    if isinstance(step, Refresh):
        token = family.refresh_tokens[-1 - min(step.age, len(family.refresh_tokens) - 1)]
        response = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
        if not family.alive:
            assert (response.status_code, response.json()["code"]) == (
                401,
                "invalid_refresh_token",
            )
        elif token != family.refresh_tokens[-1]:
            assert (response.status_code, response.json()["code"]) == (
                401,
                "refresh_token_reused",
            )
            family.alive = False
        else:
            assert response.status_code == 200, response.text
            family.refresh_tokens.append(response.json()["refresh_token"])
            family.access_token = response.json()["access_token"]
        return
    path = "/api/v1/auth/logout-all" if step.everywhere else "/api/v1/auth/logout"
    response = await client.post(path, headers=bearer(family.access_token))
    if not family.alive:
        assert response.status_code == 401, response.text
        return
    assert response.status_code == 204, response.text
    for other in model.families if step.everywhere else [family]:
        other.alive = False


async def _check(client: Client, database: asyncpg.Connection, model: Model) -> None:
    for family in model.families:
        me = await client.get("/api/v1/auth/me", headers=bearer(family.access_token))
        assert me.status_code == (200 if family.alive else 401), me.text
        rows = await database.fetch(
            "SELECT t.token_hash, t.used_at IS NULL AND s.revoked_at IS NULL AS usable"
            " FROM auth.refresh_tokens t JOIN auth.sessions s ON s.id = t.session_id"
            " WHERE t.session_id ="
            " (SELECT session_id FROM auth.refresh_tokens WHERE token_hash = $1)",
            hash_refresh_token(family.refresh_tokens[0]),
        )
        # Every token the family was given, and no other.
        assert {bytes(r["token_hash"]) for r in rows} == {
            hash_refresh_token(t) for t in family.refresh_tokens
        }
        usable = [bytes(r["token_hash"]) for r in rows if r["usable"]]
        expected = [hash_refresh_token(family.refresh_tokens[-1])] if family.alive else []
        assert usable == expected
