"""Two auth instances on one database: no id collisions, no lost events."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_auth.app import create_app
from harmoniq_auth.settings import AuthSettings
from harmoniq_common.events import UserCreated, decode_payload
from harmoniq_common.ids import snowflake_time_ms
from harmoniq_common.testing.events import collect_events

from auth_testing import PASSWORD, from_ip

PER_INSTANCE = 40


async def test_two_instances_mint_unique_ids_and_lose_no_events(
    auth_settings: AuthSettings, nats_client: NatsClient, namespace: str
) -> None:
    settings = [
        msgspec_replace(auth_settings, instance_id=f"auth-{n}", auth_rate_limit=1000)
        for n in range(2)
    ]
    async with (
        AsyncTestClient(create_app(settings[0])) as first,
        AsyncTestClient(create_app(settings[1])) as second,
    ):
        workers = {c.app.state.platform.ids.worker_id for c in (first, second)}
        assert len(workers) == 2, "each instance must lease its own worker id"

        async def register(client: AsyncTestClient[Any], n: int, tag: str) -> str:
            response = await client.post(
                "/api/v1/auth/register",
                json={
                    "username": f"{tag}{n}",
                    "email": f"{tag}{n}@example.com",
                    "password": PASSWORD,
                },
                headers=from_ip(f"10.{n}.1.1"),
            )
            assert response.status_code == 201, response.text
            user_id: str = response.json()["user"]["id"]
            return user_id

        ids = await asyncio.gather(
            *(register(first, n, "a") for n in range(PER_INSTANCE)),
            *(register(second, n, "b") for n in range(PER_INSTANCE)),
        )
    assert len(set(ids)) == 2 * PER_INSTANCE
    assert all(snowflake_time_ms(int(i)) > 0 for i in ids)

    envelopes = await collect_events(
        nats_client, namespace, f"{namespace}.ev.user.*.user.created", count=2 * PER_INSTANCE
    )
    created = [decode_payload(e) for e in envelopes]
    assert all(isinstance(e, UserCreated) for e in created)
    assert sorted(str(e.user.id) for e in created) == sorted(ids)  # type: ignore[attr-defined]
    assert len({e.id for e in envelopes}) == len(envelopes)


def msgspec_replace(settings: AuthSettings, **changes: Any) -> AuthSettings:
    import msgspec

    return msgspec.structs.replace(settings, **changes)
