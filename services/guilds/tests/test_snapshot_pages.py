"""USER_SERVERS in pages: a user in many large servers gets them all, a page under a byte
budget at a time (one answer for all would pass NATS's 1 MiB payload limit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient

from harmoniq_common.access import USER_SERVERS, UserServers, UserServersRequest
from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server

MakeUser = Callable[..., Awaitable[TestUser]]


async def test_pages_cover_every_server_once(
    client: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    owner = await make_user()
    made = [(await create_server(client, owner, f"S{i}"))["id"] for i in range(5)]
    subject = Subjects(namespace).rpc("guilds", USER_SERVERS)
    everything = await request(
        nats_client, subject, UserServersRequest(user_id=owner.id), UserServers
    )
    assert [str(s.server.id) for s in everything.servers] == made and not everything.more
    pages: list[list[str]] = []
    after, more = 0, True
    while more:
        # A budget smaller than one server: one server per page, never zero.
        page = await request(
            nats_client,
            subject,
            UserServersRequest(user_id=owner.id, after=after, page_bytes=1),
            UserServers,
        )
        pages.append([str(s.server.id) for s in page.servers])
        more = page.more
        after = int(page.servers[-1].server.id)
    assert pages == [[sid] for sid in made]
