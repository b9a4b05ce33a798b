"""Settling the links of messages' files: kept if the message was stored, given back if not.

A message's files are linked before its commit (messages asks first, so a refusal writes
nothing), so a link stays *unconfirmed* until media knows the message was stored. Rather than
hear every ``message.create`` (most carry no files; that cost 0.35-0.95 ms of media's CPU per
message sent), the cleanup asks messages (:mod:`harmoniq_common.stored_messages`), in batches,
about links unconfirmed for ``link_confirm_seconds``: a stored message's files are confirmed,
the others go back to their owner as unlinked uploads (then orphan cleanup applies).

Races: a link younger than the cutoff is never asked about, so a send in flight (link made,
commit to come within seconds) is not judged; an answer is final because a message id is
never stored later than its send (minted once per send, committed within the request). A
message deleted after its commit releases its files through its deletion event, as before:
if the event comes first the rows are released (no longer unconfirmed, nothing to settle);
if it comes after a confirmation it releases confirmed rows alike; if the message is deleted
between the answer and the confirmation, the confirmation finds the rows already released or
confirms rows the coming deletion event releases. When messages cannot answer, nothing
changes and the next run asks again. Every instance runs this at once safely: two may ask
about the same links; both updates apply only to rows still unconfirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg
import structlog
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects
from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError
from harmoniq_common.ids import Snowflake
from harmoniq_common.stored_messages import (
    MAX_STORED_QUESTION,
    MESSAGES_STORED,
    StoredMessages,
    StoredMessagesRequest,
)

from ..settings import MediaSettings
from ..store import media as store

__all__ = ["Confirmations"]

log = structlog.get_logger(__name__)


class Confirmations:
    def __init__(
        self,
        pool: asyncpg.Pool,
        nats: NatsClient,
        subjects: Subjects,
        settings: MediaSettings,
        now: Callable[[], datetime],
    ) -> None:
        self._pool = pool
        self._nats = nats
        self._subject = subjects.rpc("messages", MESSAGES_STORED)
        self._settings = settings
        self._now = now

    async def settle(self) -> tuple[int, int]:
        """(files confirmed, files given back) among links older than the cutoff."""
        cutoff = self._now() - timedelta(seconds=self._settings.link_confirm_seconds)
        confirmed = returned = 0
        while True:
            async with self._pool.acquire() as conn:
                asked = await store.unconfirmed_messages(conn, cutoff, MAX_STORED_QUESTION)
            if not asked:
                break
            try:
                answer = await request(
                    self._nats, self._subject, StoredMessagesRequest(message_ids=[Snowflake(m) for m in asked]),
                    StoredMessages,
                )  # fmt: skip
            except ApiError:  # no responders, a timeout or messages' error: ask next run
                log.warning("media.link_confirmation_deferred", count=len(asked), exc_info=True)
                break
            async with self._pool.acquire() as conn, conn.transaction():
                confirmed += await store.confirm(conn, answer.messages)
                # What is still unconfirmed among the asked: not stored (or, never expected,
                # stored under another author than the files' owner): not the message's files.
                returned += await store.unlink_unconfirmed(conn, asked, cutoff)
            if len(asked) < MAX_STORED_QUESTION:
                break
        if confirmed or returned:
            log.info("media.links_settled", confirmed=confirmed, returned=returned)
        return confirmed, returned
