"""A message's files are linked before its commit and settled by the cleanup, which asks the
messages service (``rpc.messages.stored``, here in-process) about links unconfirmed for an
hour: a stored message keeps its files, the files of a message never stored go back to their
owner, and nothing changes while messages cannot answer. media no longer hears
``message.create`` at all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects, outgoing_headers
from harmoniq_common.consumers import request
from harmoniq_common.events import MessageCreated
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import MEDIA_LINK, Linked, LinkRequest
from harmoniq_common.stored_messages import MAX_STORED_QUESTION
from harmoniq_common.testing.users import TestUser
from harmoniq_media.domain.confirmations import Confirmations
from harmoniq_media.events.deletions import CONSUMER
from harmoniq_media.settings import MediaSettings

from guilds_testing import create_server, text_channel
from media_testing import png, upload
from messages_testing import messages, messages_settings_overrides, send

__all__ = ["messages", "messages_settings_overrides"]  # fixtures this module uses

Client = AsyncTestClient[Any]
MakeUser = Callable[..., Awaitable[TestUser]]
LATER = timedelta(hours=2)  # past link_confirm_seconds (1 h)


async def link(
    nats_client: NatsClient, namespace: str, owner: TestUser, media_id: str, message_id: int
) -> None:
    """What messages asks before its commit: here for a message whose commit never comes."""
    question = LinkRequest(
        owner_id=owner.id,
        media_ids=[Snowflake(int(media_id))],
        kind="message",
        target_id=Snowflake(message_id),
        channel_id=Snowflake(2),
        server_id=Snowflake(3),
    )
    await request(nats_client, Subjects(namespace).rpc("media", MEDIA_LINK), question, Linked)


def confirmations(
    db: asyncpg.Pool,
    settings: MediaSettings,
    nats_client: NatsClient,
    namespace: str,
    ahead: timedelta,
) -> Confirmations:
    at = datetime.now(UTC) + ahead
    return Confirmations(db, nats_client, Subjects(namespace), settings, now=lambda: at)


async def link_of(db: asyncpg.Pool, media_id: str) -> tuple[Any, ...]:
    row = await db.fetchrow(
        "SELECT linked_to, channel_id, server_id, link_confirmed FROM media WHERE id = $1",
        int(media_id),
    )
    return tuple(row)


async def test_a_stored_message_keeps_its_files_and_a_lost_one_gives_them_back(
    client: Client,
    guilds: Client,
    messages: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    db: asyncpg.Pool,
    media_settings: MediaSettings,
) -> None:
    owner = await make_user()
    server = await create_server(guilds, owner)
    channel = (await text_channel(guilds, server, owner))["id"]
    kept, lost = (
        (await upload(client, owner.headers, png()))["id"],
        (await upload(client, owner.headers, png()))["id"],
    )
    sent = await send(messages, owner, channel, "look", attachments=[kept])
    await link(nats_client, namespace, owner, lost, message_id=41)
    stored_link = (int(sent["id"]), int(channel), int(server["id"]))
    assert await link_of(db, kept) == (*stored_link, False)  # its message.create confirms nothing
    assert await link_of(db, lost) == (41, 2, 3, False)

    now = confirmations(db, media_settings, nats_client, namespace, timedelta(0))
    assert await now.settle() == (0, 0)  # younger than an hour: not asked about
    later = confirmations(db, media_settings, nats_client, namespace, LATER)
    assert await later.settle() == (1, 1)
    assert await link_of(db, kept) == (*stored_link, True)
    assert await link_of(db, lost) == (None, None, None, True)  # its owner's to use again
    assert await later.settle() == (0, 0)  # settled: nothing more to ask


async def test_more_than_one_question_of_lost_links_all_go_back(
    client: Client,
    messages: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    db: asyncpg.Pool,
    media_settings: MediaSettings,
) -> None:
    owner = await make_user()
    first = (await upload(client, owner.headers, png()))["id"]
    await link(nats_client, namespace, owner, first, message_id=1000)
    # Copies of that row, each linked to its own message never stored: two questions' worth.
    extra = MAX_STORED_QUESTION + 20
    await db.execute(
        """INSERT INTO media (id, owner_id, purpose, filename, content_type, disposition, size,
                              width, height, object_key, state, linked_kind, linked_to,
                              channel_id, server_id, linked_at, link_confirmed)
           SELECT id + g, owner_id, purpose, filename, content_type, disposition, size, width,
                  height, object_key || g, state, 'message', 1000 + g, 2, 3, linked_at, false
           FROM media, generate_series(1, $2) AS g WHERE id = $1""",
        int(first),
        extra,
    )
    later = confirmations(db, media_settings, nats_client, namespace, LATER)
    assert await later.settle() == (0, extra + 1)
    assert await db.fetchval("SELECT count(*) FROM media WHERE NOT link_confirmed") == 0


async def test_while_messages_cannot_answer_nothing_changes(
    client: Client,
    make_user: MakeUser,
    nats_client: NatsClient,
    namespace: str,
    db: asyncpg.Pool,
    media_settings: MediaSettings,
) -> None:
    """No messages service in this test: no responders, so the links wait for the next run."""
    owner = await make_user()
    media_id = (await upload(client, owner.headers, png()))["id"]
    await link(nats_client, namespace, owner, media_id, message_id=51)
    later = confirmations(db, media_settings, nats_client, namespace, LATER)
    assert await later.settle() == (0, 0)
    assert await link_of(db, media_id) == (51, 2, 3, False)


async def test_the_deletion_consumer_does_not_hear_message_create(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    subjects = Subjects(namespace)
    js = nats_client.jetstream()
    info = await js.consumer_info(subjects.events_stream, CONSUMER)
    filters = info.config.filter_subjects or []
    assert subjects.server_events_of_type("message.delete") in filters
    assert not [f for f in filters if f.endswith(f".{MessageCreated.event_type}")]
    published = await js.publish(
        subjects.server_event(3, MessageCreated.event_type),
        b"{}",
        headers=outgoing_headers(msg_id=f"{namespace}-create"),
    )
    # Had the consumer matched it, it would be pending or already delivered.
    info = await js.consumer_info(subjects.events_stream, CONSUMER)
    assert info.num_pending == 0
    assert info.delivered.stream_seq is None or info.delivered.stream_seq < published.seq
