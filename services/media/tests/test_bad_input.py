"""Every media route refuses bad bytes before any work, and every id parameter is typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.testing import AsyncTestClient

from harmoniq_common.testing.bad_input import refusal_mismatches
from harmoniq_common.testing.routes import id_parameter_problems
from harmoniq_common.testing.users import TestUser

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]


async def test_every_route_refuses_bad_input_before_any_work(
    client: Client, make_user: MakeUser
) -> None:
    prober = await make_user()
    schema = (await client.get("/schema/openapi.json")).json()
    mismatches = await refusal_mismatches(client, schema, prober.headers)
    assert not mismatches, "\n".join(mismatches)


async def test_every_id_parameter_is_typed(client: Client, make_user: MakeUser) -> None:
    """A snowflake in OpenAPI, and ``x`` in its place a 400 naming it (path and query)."""
    user = await make_user()
    assert await id_parameter_problems(client, user.headers) == []
