"""Other services ask auth who users are (NATS request/reply)."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.directory import USER_SUMMARIES, UserSummaries, UserSummariesRequest
from harmoniq_common.ids import Snowflake

from auth_testing import PASSWORD, bearer, register


async def test_summaries_of_existing_users_and_not_of_deleted_or_unknown_ones(
    client: AsyncTestClient[Any], nats_client: NatsClient, namespace: str
) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob", ip="10.0.0.2")
    gone = await client.request(
        "DELETE",
        "/api/v1/users/me",
        json={"password": PASSWORD},
        headers=bearer(bob["access_token"]),
    )
    assert gone.status_code == 204, gone.text

    ids = [Snowflake(alice["user"]["id"]), Snowflake(bob["user"]["id"]), Snowflake(42)]
    answer = await request(
        nats_client,
        Subjects(namespace).rpc("auth", USER_SUMMARIES),
        UserSummariesRequest(ids=ids),
        UserSummaries,
    )
    assert [(u.id, u.username) for u in answer.users] == [(ids[0], "alice")]
