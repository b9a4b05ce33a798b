"""Files through the real fleet behind nginx: upload, attach, see it live, fetch it, lose it.

One person uploads an image and sends it in a message; the other member sees the message with
its attachment live on the gateway, follows the redirects to the bytes and the thumbnail; a
stranger gets 404; the message is deleted and media (consuming ``message.delete``) removes
the objects from the bucket.
"""

from __future__ import annotations

import asyncio
import io
import secrets

import boto3
import httpx
from PIL import Image

from harmoniq_common.testing.s3 import S3Server
from harmoniq_common.testing.waiting import eventually

from fleet import Fleet
from gateway_client import GatewayClient


def _register(http: httpx.Client, name: str) -> dict[str, str]:
    body = http.post(
        "/api/v1/auth/register",
        json={
            "username": name,
            "email": f"{name}@example.com",
            "password": "correct horse battery",
        },
    )
    assert body.status_code == 201, body.text
    return {
        "Authorization": f"Bearer {body.json()['access_token']}",
        "token": body.json()["access_token"],
    }


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "teal").save(out, "PNG")
    return out.getvalue()


async def test_an_attachment_from_upload_to_deletion(
    fleet: Fleet, http: httpx.Client, harmoniq_s3: S3Server
) -> None:
    tag = secrets.token_hex(3)
    ada, bo, eve = (_register(http, f"{n}{tag}") for n in ("ada", "bo", "eve"))
    auth = {name: {"Authorization": who["Authorization"]} for name, who in
            (("ada", ada), ("bo", bo), ("eve", eve))}  # fmt: skip
    server = http.post("/api/v1/servers", json={"name": "Files"}, headers=auth["ada"]).json()
    channel = next(
        c
        for c in http.get(f"/api/v1/servers/{server['id']}/channels", headers=auth["ada"]).json()
        if c["kind"] == "text"
    )
    invite = http.post(f"/api/v1/channels/{channel['id']}/invites", json={}, headers=auth["ada"])
    assert (
        http.post(f"/api/v1/invites/{invite.json()['code']}", headers=auth["bo"]).status_code == 200
    )

    watcher = await GatewayClient.connect(fleet.url.replace("http://", "ws://") + "/gateway")
    await watcher.identify(bo["token"])

    image = _png()
    uploaded = http.post(
        "/api/v1/media/upload",
        data={"purpose": "attachment"},
        files={"file": ("sea.png", image, "image/png")},
        headers=auth["ada"],
    )
    assert uploaded.status_code == 201, uploaded.text
    media = uploaded.json()
    sent = http.post(
        f"/api/v1/channels/{channel['id']}/messages",
        json={"attachments": [media["id"]]},
        headers=auth["ada"],
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()

    live = await watcher.dispatch("message.create", timeout=15)
    [attachment] = live["d"]["message"]["attachments"]
    assert live["d"]["message"]["id"] == message["id"]
    assert (attachment["id"], attachment["width"], attachment["height"]) == (media["id"], 300, 200)
    await watcher.close()

    # Through nginx to media, 302 to the store, the bytes; and the thumbnail.
    redirect = http.get(attachment["url"], headers=auth["bo"])
    assert redirect.status_code == 302, redirect.text
    assert httpx.get(redirect.headers["location"]).content == image
    thumb = http.get(attachment["thumbnails"][0]["url"], headers=auth["bo"])
    assert thumb.status_code == 302
    assert httpx.get(thumb.headers["location"]).content[8:12] == b"WEBP"
    assert http.get(attachment["url"], headers=auth["eve"]).status_code == 404

    bucket = boto3.client(
        "s3",
        endpoint_url=harmoniq_s3.url,
        aws_access_key_id=harmoniq_s3.access_key,
        aws_secret_access_key=harmoniq_s3.secret_key,
        region_name=harmoniq_s3.region,
    )
    name = f"media-{fleet.namespace}".replace("_", "-")

    def keys() -> list[str]:
        listed = bucket.list_objects_v2(Bucket=name, Prefix=f"media/{media['id']}/")
        return [item["Key"] for item in listed.get("Contents", [])]

    assert len(keys()) == 3  # the original and two thumbnails
    deleted = http.delete(
        f"/api/v1/channels/{channel['id']}/messages/{message['id']}", headers=auth["ada"]
    )
    assert deleted.status_code == 204

    async def gone() -> bool:
        return not await asyncio.to_thread(keys)

    await eventually(gone, timeout=20, what="the deleted message's objects removed")
    assert http.get(attachment["url"], headers=auth["ada"]).status_code == 404


def test_an_uploaded_avatar_and_icon_are_public(fleet: Fleet, http: httpx.Client) -> None:
    tag = secrets.token_hex(3)
    ada = _register(http, f"cy{tag}")
    auth = {"Authorization": ada["Authorization"]}
    image = _png()

    def upload(purpose: str) -> str:
        response = http.post(
            "/api/v1/media/upload",
            data={"purpose": purpose},
            files={"file": (f"{purpose}.png", image, "image/png")},
            headers=auth,
        )
        assert response.status_code == 201, response.text
        media_id: str = response.json()["id"]
        return media_id

    avatar = upload("avatar")
    me = http.patch("/api/v1/users/me", json={"avatar": avatar}, headers=auth)
    assert me.status_code == 200, me.text
    assert me.json()["avatar_url"] == f"/api/v1/media/public/{avatar}"
    server = http.post("/api/v1/servers", json={"name": "Icons"}, headers=auth).json()
    icon = upload("icon")
    patched = http.patch(f"/api/v1/servers/{server['id']}", json={"icon": icon}, headers=auth)
    assert patched.status_code == 200, patched.text
    assert patched.json()["icon_id"] == icon
    with httpx.Client(base_url=fleet.url, timeout=10) as anonymous:  # no token at all
        for url in (me.json()["avatar_url"], patched.json()["icon_url"]):
            redirect = anonymous.get(url)
            assert redirect.status_code == 302, redirect.text
            assert httpx.get(redirect.headers["location"]).content == image
