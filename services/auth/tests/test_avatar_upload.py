"""An uploaded avatar: ``avatar`` = a media id of the caller's links it through media; the
profile and ``user.updated`` carry media's URL for it, the previous avatar's objects go, and
media's refusals (someone else's upload, an attachment) come back as 4xx with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.events import UserUpdated, decode_payload
from harmoniq_common.testing.events import collect_events

from auth_testing import bearer, register
from media_testing import MediaBucket, media, media_bucket, png, upload

__all__ = ["media", "media_bucket"]  # fixtures this module uses

Client = AsyncTestClient[Any]


async def test_an_uploaded_avatar_replaces_the_previous_one(
    client: Client,
    media: Client,
    media_bucket: MediaBucket,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    me = await register(client)
    headers = bearer(me["access_token"])
    first = await upload(media, headers, png(), purpose="avatar")
    second = await upload(media, headers, png(color="blue"), purpose="avatar")
    for avatar in (first, second):
        response = await client.patch("/api/v1/users/me", json={"avatar": avatar["id"]},
                                      headers=headers)  # fmt: skip
        assert response.status_code == 200, response.text
        assert response.json()["avatar_url"] == f"/api/v1/media/public/{avatar['id']}"
    assert not media_bucket.keys_of(first["id"])
    assert media_bucket.keys_of(second["id"])
    events = await collect_events(
        nats_client, namespace, f"{namespace}.ev.user.{me['user']['id']}.user.updated", count=2
    )
    payload = decode_payload(events[-1])
    assert isinstance(payload, UserUpdated)
    assert payload.user.avatar_url == f"/api/v1/media/public/{second['id']}"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("someone_elses", 400, "unknown_media"),
        ("attachment", 400, "wrong_media_purpose"),
        ("with_avatar_url", 400, "invalid_request"),
    ],
)
async def test_avatars_media_refuses_change_nothing(
    client: Client, media: Client, case: str, status: int, code: str
) -> None:
    me, other = await register(client, "avatarme"), await register(client, "avatarother")
    headers = bearer(me["access_token"])
    if case == "someone_elses":
        owner = bearer(other["access_token"])
        body: dict[str, Any] = {
            "avatar": (await upload(media, owner, png(), purpose="avatar"))["id"]
        }
    elif case == "attachment":
        body = {"avatar": (await upload(media, headers, png()))["id"]}
    else:
        mine = await upload(media, headers, png(), purpose="avatar")
        body = {"avatar": mine["id"], "avatar_url": "https://cdn.example.com/a.png"}
    body["username"] = f"renamed{case[:6]}"
    response = await client.patch("/api/v1/users/me", json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    unchanged = (await client.get("/api/v1/auth/me", headers=headers)).json()
    assert unchanged["avatar_url"] is None and unchanged["username"] == me["user"]["username"]
