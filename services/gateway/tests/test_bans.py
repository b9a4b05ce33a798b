"""``ban.added`` reaches the banned user, as docs/api.md promises: guilds emits it on the
server's subject (moderators) and on the user's own (the banned user's sessions, which stop
following the server at ``member.left``, or never followed it: a ban in advance)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.testing.users import TestUser

from gateway_client import GatewayClient
from guilds_testing import Client, create_server, invite_and_join

MakeUser = Callable[..., Awaitable[TestUser]]
StartGateway = Callable[[], Awaitable[Any]]


async def test_a_banned_member_is_told_why_once(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, member = await make_user("olga"), await make_user("max")
    server = await create_server(guilds, owner)
    await invite_and_join(guilds, server, owner, member)
    url = (await start_gateway()).url
    banned, moderator = await GatewayClient.connect(url), await GatewayClient.connect(url)
    await banned.identify(member.token)
    await moderator.identify(owner.token)
    response = await guilds.put(
        f"/api/v1/servers/{server['id']}/bans/{member.id}",
        json={"reason": "spam", "delete_message_seconds": 60},
        headers=owner.headers,
    )
    assert response.status_code == 204

    left = await banned.dispatch("member.left")
    assert left["d"]["user_id"] == str(member.id)
    ban = await banned.dispatch("ban.added")
    assert ban["d"] == {
        "server_id": server["id"],
        "user_id": str(member.id),
        "reason": "spam",
        "delete_messages_seconds": 60,
    }
    assert "ban.added" not in await banned.types_until_ack(), "delivered once"
    # Moderators still get it from the server's subject, once.
    assert (await moderator.dispatch("ban.added"))["d"] == ban["d"]
    assert "ban.added" not in await moderator.types_until_ack()
    for client in (banned, moderator):
        await client.close()


async def test_a_ban_in_advance_reaches_the_user(
    guilds: Client, make_user: MakeUser, start_gateway: StartGateway
) -> None:
    owner, stranger = await make_user("olga"), await make_user("sam")
    server = await create_server(guilds, owner)
    client = await GatewayClient.connect((await start_gateway()).url)
    await client.identify(stranger.token)
    response = await guilds.put(
        f"/api/v1/servers/{server['id']}/bans/{stranger.id}", headers=owner.headers
    )
    assert response.status_code == 204
    ban = await client.dispatch("ban.added")
    assert ban["d"]["server_id"] == server["id"]
    assert ban["d"]["user_id"] == str(stranger.id)
    await client.close()
