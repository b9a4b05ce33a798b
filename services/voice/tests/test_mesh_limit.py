"""The mesh limit caps a channel whatever its user limit, MOVE_MEMBERS included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.errors import ApiError
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, make_crew
from voice_testing import join_voice, voice_channel

MakeUser = Callable[..., Awaitable[TestUser]]


@pytest.fixture
def voice_overrides() -> dict[str, Any]:
    return {"mesh_limit": 2}


async def test_the_mesh_limit_holds_even_for_movers(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    crew = await make_crew(guilds, make_user)
    call = await voice_channel(guilds, crew.id, crew.owner, "Call")  # no user limit
    spare = await voice_channel(guilds, crew.id, crew.owner, "Spare")
    await join_voice(nats_client, namespace, crew.member, call["id"])
    await join_voice(nats_client, namespace, crew.moderator, call["id"])
    with pytest.raises(ApiError) as full:
        await join_voice(nats_client, namespace, crew.owner, call["id"])  # every permission
    assert (full.value.status_code, full.value.code) == (403, "channel_full")
    # Nor can a moderator move someone in past it.
    await join_voice(nats_client, namespace, crew.admin, spare["id"])
    moved = await client.patch(
        f"/api/v1/channels/{spare['id']}/voice-states/{crew.admin.id}",
        json={"channel_id": call["id"]},
        headers=crew.owner.headers,
    )
    assert moved.status_code == 403 and moved.json()["code"] == "channel_full"
    # Leaving frees a place.
    await join_voice(nats_client, namespace, crew.member, None)
    again = await join_voice(nats_client, namespace, crew.owner, call["id"])
    assert again.state is not None
