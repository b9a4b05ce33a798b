"""Which messages were stored, asked of messages over NATS (:data:`MESSAGES_STORED`).

media links a message's files before the message commits (see :mod:`.media`), so a link whose
message never committed (the commit failed and the release was lost, or messages crashed in
between) must go back to its owner. media's cleanup asks, only for links still unconfirmed
after ``HARMONIQ_LINK_CONFIRM_SECONDS``: messages answers the ids it holds, with the channel,
server and author it stored; an id it does not hold is absent from the answer (never stored,
or deleted since: either way its files are not the message's any more).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from .ids import Snowflake

__all__ = [
    "MAX_STORED_QUESTION",
    "MESSAGES_STORED",
    "StoredMessage",
    "StoredMessages",
    "StoredMessagesRequest",
]

MESSAGES_STORED = "stored"
# One question stays one indexed lookup and one reply well under NATS's 1 MB payload limit.
MAX_STORED_QUESTION = 500


class StoredMessagesRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    message_ids: Annotated[
        list[Snowflake], msgspec.Meta(min_length=1, max_length=MAX_STORED_QUESTION)
    ]


class StoredMessage(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    channel_id: Snowflake
    server_id: Snowflake
    author_id: Snowflake


class StoredMessages(msgspec.Struct, frozen=True, kw_only=True):
    messages: list[StoredMessage]  # the asked ids that are stored, in no particular order
