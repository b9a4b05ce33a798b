"""Which messages are stored: media's cleanup asks, to confirm the links of files whose
message committed and to give back those whose message never did (see
:mod:`harmoniq_common.stored_messages`). Read from the primary through the service's pool:
an answer that missed a committed message would give its files back."""

from __future__ import annotations

from harmoniq_common.platform import Platform
from harmoniq_common.stored_messages import StoredMessages, StoredMessagesRequest

from ..store import messages

__all__ = ["stored_messages"]


async def stored_messages(platform: Platform, question: StoredMessagesRequest) -> StoredMessages:
    return StoredMessages(messages=await messages.stored(platform.pool, question.message_ids))
