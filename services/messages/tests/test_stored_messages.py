"""media's question "which of these messages are stored" (``rpc.messages.stored``): stored ids
answered with their channel, server and author; unknown and deleted ids left out; bad
questions refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
import pytest
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.ids import Snowflake
from harmoniq_common.stored_messages import (
    MAX_STORED_QUESTION,
    MESSAGES_STORED,
    StoredMessage,
    StoredMessages,
    StoredMessagesRequest,
)
from harmoniq_common.testing.users import TestUser

from guilds_testing import Client, create_server, text_channel
from messages_testing import send

MakeUser = Callable[..., Awaitable[TestUser]]


def _subject(namespace: str) -> str:
    return Subjects(namespace).rpc("messages", MESSAGES_STORED)


async def test_stored_messages_are_answered_and_others_left_out(
    client: Client, guilds: Client, make_user: MakeUser, nats_client: NatsClient, namespace: str
) -> None:
    me = await make_user("stella")
    server = await create_server(guilds, me)
    channel = (await text_channel(guilds, server, me))["id"]
    kept = await send(client, me, channel, "kept")
    gone = await send(client, me, channel, "gone")
    deleted = await client.delete(
        f"/api/v1/channels/{channel}/messages/{gone['id']}", headers=me.headers
    )
    assert deleted.status_code == 204, deleted.text
    asked = [Snowflake(int(kept["id"])), Snowflake(int(gone["id"])), Snowflake(123456789)]
    answer = await request(
        nats_client, _subject(namespace), StoredMessagesRequest(message_ids=asked), StoredMessages
    )
    assert answer.messages == [
        StoredMessage(
            id=Snowflake(int(kept["id"])),
            channel_id=Snowflake(int(channel)),
            server_id=Snowflake(int(server["id"])),
            author_id=me.id,
        )
    ]


@pytest.mark.parametrize(
    "question",
    [
        b"\xff not json",
        b'{"message_ids": []}',
        b'{"message_ids": ["abc"]}',
        b'{"message_ids": ["1"], "extra": true}',
        b"{}",
        msgspec.json.encode({"message_ids": [str(n) for n in range(1, MAX_STORED_QUESTION + 2)]}),
    ],
)
async def test_bad_questions_are_refused(
    client: Client, nats_client: NatsClient, namespace: str, question: bytes
) -> None:
    reply = await nats_client.request(_subject(namespace), question, timeout=2)
    assert msgspec.json.decode(reply.data)["error"]["code"] == "invalid_request"


async def test_a_full_batch_is_answered(
    client: Client, nats_client: NatsClient, namespace: str
) -> None:
    question = StoredMessagesRequest(
        message_ids=[Snowflake(n) for n in range(1, MAX_STORED_QUESTION + 1)]
    )
    answer = await request(nats_client, _subject(namespace), question, StoredMessages)
    assert answer.messages == []
