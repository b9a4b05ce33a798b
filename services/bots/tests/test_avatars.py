"""A webhook's avatar as an upload: linked by media like a server's icon, shown at media's
public route, replaced, and released with the webhook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

import media_testing
from bots_testing import create_webhook, execute
from guilds_testing import Client, create_server, text_channel
from media_testing import png, upload

MakeUser = Callable[..., Awaitable[TestUser]]
media = media_testing.media  # the media service in-process (a fixture)


async def test_an_uploaded_avatar_is_the_webhooks_until_it_goes(
    client: Client, guilds: Client, messages: Client, media: Client, make_user: MakeUser
) -> None:
    owner, stranger = await make_user(), await make_user()
    server = await create_server(guilds, owner)
    channel = str((await text_channel(guilds, server, owner))["id"])
    avatar = await upload(media, owner.headers, png(32, 32), purpose="avatar")
    hook = await create_webhook(client, owner, str(server["id"]), channel, avatar_id=avatar["id"])
    assert hook["avatar_url"] == f"/api/v1/media/public/{avatar['id']}"
    shown = await media.get(hook["avatar_url"], follow_redirects=False)
    assert shown.status_code == 302
    message = await execute(client, hook, {"content": "hi"})
    assert message["author"]["avatar_url"] == hook["avatar_url"]

    # Someone else's upload, or an attachment, is refused naming the field; nothing changes.
    theirs = await upload(media, stranger.headers, png(16, 16), purpose="avatar")
    attachment = await upload(media, owner.headers, png(16, 16))
    for media_id in (theirs["id"], attachment["id"]):
        refused = await client.patch(
            f"/api/v1/webhooks/{hook['id']}", json={"avatar_id": media_id}, headers=owner.headers
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["errors"][0]["field"] == "avatar_id"
    both = await client.patch(
        f"/api/v1/webhooks/{hook['id']}",
        json={"avatar_id": avatar["id"], "avatar_url": "https://x.example/a.png"},
        headers=owner.headers,
    )
    assert both.status_code == 400

    # A new upload replaces it: the old one is released (no longer served).
    second = await upload(media, owner.headers, png(24, 24), purpose="avatar")
    changed = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"avatar_id": second["id"]}, headers=owner.headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["avatar_url"] == f"/api/v1/media/public/{second['id']}"
    assert (await media.get(hook["avatar_url"], follow_redirects=False)).status_code == 404

    # Deleted with the webhook (media consumes webhook.delete).
    gone = await client.delete(f"/api/v1/webhooks/{hook['id']}", headers=owner.headers)
    assert gone.status_code == 204

    async def released() -> bool:
        answer = await media.get(changed.json()["avatar_url"], follow_redirects=False)
        return answer.status_code == 404

    await eventually(released, what="the avatar released with its webhook")


async def test_a_url_instead_releases_the_uploaded_avatar(
    client: Client, guilds: Client, media: Client, make_user: MakeUser
) -> None:
    owner = await make_user()
    server = await create_server(guilds, owner)
    channel = str((await text_channel(guilds, server, owner))["id"])
    avatar = await upload(media, owner.headers, png(32, 32), purpose="avatar")
    hook: dict[str, Any] = await create_webhook(
        client, owner, str(server["id"]), channel, avatar_id=avatar["id"]
    )
    changed = await client.patch(hook["url"], json={"avatar_url": "https://x.example/a.png"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["avatar_url"] == "https://x.example/a.png"
    # The upload is its owner's again: usable for another webhook.
    other = await create_webhook(
        client, owner, str(server["id"]), channel, "Second", avatar_id=avatar["id"]
    )
    assert other["avatar_url"] == f"/api/v1/media/public/{avatar['id']}"
