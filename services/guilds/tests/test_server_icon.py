"""An uploaded server icon: ``icon`` = a media id of the caller's links it through media; the
server (and ``server.updated``) carry it as ``icon_id``, the previous icon's objects go, and
media's refusals come back as 4xx with nothing changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.events import ServerUpdated, decode_payload
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from guilds_testing import Client, create_server
from media_testing import MediaBucket, media, media_bucket, png, upload

__all__ = ["media", "media_bucket"]  # fixtures this module uses

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_an_uploaded_icon_replaces_the_previous_one(
    client: Client,
    media: Client,
    media_bucket: MediaBucket,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    owner = await make_user()
    server = await create_server(client, owner)
    first = await upload(media, owner.headers, png(), purpose="icon")
    second = await upload(media, owner.headers, png(color="blue"), purpose="icon")
    for icon in (first, second):
        response = await client.patch(
            f"/api/v1/servers/{server['id']}", json={"icon": icon["id"]}, headers=owner.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["icon_id"] == icon["id"]
        assert response.json()["icon_url"] == f"/api/v1/media/public/{icon['id']}"
    assert not media_bucket.keys_of(first["id"])
    assert media_bucket.keys_of(second["id"])
    events = await collect_events(
        nats_client, namespace, f"{namespace}.ev.server.{server['id']}.server.updated", count=2
    )
    payload = decode_payload(events[-1])
    assert isinstance(payload, ServerUpdated) and payload.server.icon_id == second["id"]
    assert payload.server.icon_url == f"/api/v1/media/public/{second['id']}"  # shown live

    # The server goes, and media (consuming server.deleted) removes its icon.
    deleted = await client.delete(f"/api/v1/servers/{server['id']}", headers=owner.headers)
    assert deleted.status_code == 204

    async def icon_gone() -> bool:
        return not media_bucket.keys_of(second["id"])

    await eventually(icon_gone, what="the deleted server's icon removed from the bucket")


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [("someone_elses", 400, "unknown_media"), ("avatar", 400, "wrong_media_purpose")],
)
async def test_icons_media_refuses_change_nothing(
    client: Client, media: Client, make_user: MakeUser, case: str, status: int, code: str
) -> None:
    owner, other = await make_user(), await make_user()
    server = await create_server(client, owner)
    uploader = other if case == "someone_elses" else owner
    purpose = "icon" if case == "someone_elses" else "avatar"
    media_id = (await upload(media, uploader.headers, png(), purpose=purpose))["id"]
    response = await client.patch(
        f"/api/v1/servers/{server['id']}",
        json={"icon": media_id, "name": "Renamed"},
        headers=owner.headers,
    )
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    unchanged: dict[str, Any] = (
        await client.get(f"/api/v1/servers/{server['id']}", headers=owner.headers)
    ).json()
    assert unchanged["icon_id"] is None and unchanged["name"] != "Renamed"
