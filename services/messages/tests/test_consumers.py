"""What messages does when auth or guilds report a change: anonymise, remove, stay idempotent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from harmoniq_auth.testing import PASSWORD
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually
from harmoniq_guilds.testing import Client, create_server, invite_and_join, text_channel
from harmoniq_messages.testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_a_deleted_account_is_anonymised_on_its_messages(
    client: Client, guilds: Client, auth_client: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    leaver = await make_user("leaver")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, leaver)
    channel = (await text_channel(guilds, server, owner))["id"]
    sent = await send(client, leaver, channel, "bye all")
    assert sent["author"]["username"] == "leaver"
    gone = await auth_client.request(
        "DELETE", "/api/v1/users/me", json={"password": PASSWORD}, headers=leaver.headers
    )
    assert gone.status_code == 204

    async def anonymised() -> bool:
        got = await client.get(
            f"/api/v1/channels/{channel}/messages/{sent['id']}", headers=owner.headers
        )
        return bool(
            got.json()["author"]
            == {"id": str(leaver.id), "username": "Deleted User", "avatar_url": None}
        )

    await eventually(anonymised, what="the author anonymised")
    # The content stays: the conversation still makes sense to the others.
    got = await client.get(
        f"/api/v1/channels/{channel}/messages/{sent['id']}", headers=owner.headers
    )
    assert got.json()["content"] == "bye all"


async def test_a_deleted_channel_takes_its_messages(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    general = (await text_channel(guilds, server, owner))["id"]
    doomed = (
        await guilds.post(
            f"/api/v1/servers/{server['id']}/channels",
            json={"name": "doomed"},
            headers=owner.headers,
        )
    ).json()["id"]
    kept = await send(client, owner, general, "keep me")
    lost = [await send(client, owner, doomed, f"lose me {i}") for i in range(3)]
    assert (
        await guilds.delete(f"/api/v1/channels/{doomed}", headers=owner.headers)
    ).status_code == 204

    # Refused at once (the access answer moved with guilds' epoch) ...
    assert (
        await client.get(f"/api/v1/channels/{doomed}/messages", headers=owner.headers)
    ).status_code == 404

    # ... and removed once the event arrives: the server-wide search no longer finds them.
    async def removed() -> bool:
        body = (
            await client.get(
                f"/api/v1/servers/{server['id']}/messages/search",
                params={"q": "lose"},
                headers=owner.headers,
            )
        ).json()
        return body["messages"] == []

    await eventually(removed, what="the channel's messages removed")
    assert [
        m["id"]
        for m in (
            await client.get(f"/api/v1/channels/{general}/messages", headers=owner.headers)
        ).json()
    ] == [kept["id"]]
    assert lost  # sent before the deletion


async def test_a_deleted_server_takes_its_messages(
    client: Client, guilds: Client, make_user: MakeUser
) -> None:
    owner = await make_user("olga")
    server = await create_server(guilds, owner)
    other = await create_server(guilds, owner, "Other")
    channel = (await text_channel(guilds, server, owner))["id"]
    other_channel = (await text_channel(guilds, other, owner))["id"]
    await send(client, owner, channel, "in the doomed server")
    survivor = await send(client, owner, other_channel, "in the other server")
    assert (
        await guilds.delete(f"/api/v1/servers/{server['id']}", headers=owner.headers)
    ).status_code == 204
    assert (
        await client.get(f"/api/v1/channels/{channel}/messages", headers=owner.headers)
    ).status_code == 404

    async def removed() -> bool:
        return _count_in(client, int(server["id"])) == 0

    await eventually(removed, what="the server's messages removed")
    assert [
        m["id"]
        for m in (
            await client.get(f"/api/v1/channels/{other_channel}/messages", headers=owner.headers)
        ).json()
    ] == [survivor["id"]]


def _count_in(client: Client, server_id: int) -> int:
    platform = client.app.state.platform

    async def count() -> int:
        async with platform.pool.acquire() as conn:
            return int(
                await conn.fetchval("SELECT count(*) FROM messages WHERE server_id = $1", server_id)
            )

    # The app's pool lives in the test client's event loop thread.
    return int(client.blocking_portal.call(count))
