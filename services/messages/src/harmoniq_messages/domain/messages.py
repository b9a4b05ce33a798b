"""Messages: send (with replies, mentions and an idempotency nonce), read, edit, delete,
bulk delete and pins. Every decision starts from the caller's permissions in the channel."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
import structlog

from harmoniq_common.access import AccessCache, ChannelAccess
from harmoniq_common.auth import Principal
from harmoniq_common.blocks import BlockCache
from harmoniq_common.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
)
from harmoniq_common.events import (
    MessageCreated,
    MessageDeleted,
    MessagesBulkDeleted,
    MessageUpdated,
    MessageView,
    PinUpdated,
    ReplyPreview,
    UserSummary,
)
from harmoniq_common.ids import Snowflake
from harmoniq_common.media import Attachment
from harmoniq_common.outbox import prepare
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.ratelimit import Decision, RateLimit
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..settings import MessagesSettings
from ..store import messages
from ..store.rows import MessageRow, ReactionCountRow
from .authors import KnownAuthors
from .content import Mentions, has_link, parse_mentions
from .fanout import channel_subjects, emit_for_channel
from .files import Files
from .views import message_view, reaction_counts, reply_previews

__all__ = ["Messages", "Page", "require"]

log = structlog.get_logger(__name__)


def require(access: ChannelAccess, *permissions: Permission) -> None:
    for permission in permissions:
        if not access.allows(permission):
            raise Forbidden(f"missing permission {permission.name}", code="missing_permission")


# A stale author is encoded again at most this often before the send gives up (503): a
# rename racing a send, twice in a row.
_AUTHOR_ATTEMPTS = 3
_NOBODY = UserSummary(id=Snowflake(0), username="")


def _unsaved(
    new: messages.NewMessage, author: UserSummary, created_at: datetime | None = None
) -> MessageRow:
    """The row ``new`` becomes once written (what the store would read back)."""
    return MessageRow(
        id=new.id,
        server_id=Snowflake(new.server_id),
        channel_id=Snowflake(new.channel_id),
        author_id=Snowflake(new.author_id),
        author_username=author.username,
        author_avatar_url=author.avatar_url,
        content=new.content,
        nonce=new.nonce,
        reply_to_id=None if new.reply_to_id is None else Snowflake(new.reply_to_id),
        mention_user_ids=[Snowflake(u) for u in new.mention_user_ids],
        mention_role_ids=[Snowflake(r) for r in new.mention_role_ids],
        mention_everyone=new.mention_everyone,
        has_link=new.has_link,
        has_attachment=bool(new.attachments),
        attachments=new.attachments,
        pinned_at=None,
        edited_at=None,
        created_at=created_at or datetime.now(UTC),
    )


@dataclass(frozen=True)
class Page:
    """Messages with what the viewer sees of their reactions, and which of their authors
    the viewer blocked (the answer marks those messages: ``author_blocked``)."""

    messages: list[MessageView]
    reactions: dict[Snowflake, list[ReactionCountRow]]
    blocked_authors: frozenset[int] = frozenset()


class Messages:
    def __init__(self, platform: Platform, settings: MessagesSettings, access: AccessCache) -> None:
        self._platform = platform
        self._settings = settings
        self._access = access
        self._authors = KnownAuthors(platform)
        self._blocks = BlockCache(platform.redis, platform.nats, platform.subjects)
        self._files = Files(platform)

    async def access(self, user_id: int, channel_id: int) -> ChannelAccess:
        return await self._access.channel(user_id, channel_id)

    async def limited_access(
        self, caller: Principal, rule: RateLimit, key: str, channel_id: int
    ) -> tuple[Decision, ChannelAccess]:
        """The caller's revocation (401), a rate-limit hit (429 when refused) and their
        access, one Redis round trip."""
        return await self._access.channel_limited(
            caller, self._platform.marks, self._platform.limiter, rule, key, channel_id
        )

    async def _reader(self, user_id: int, channel_id: int) -> ChannelAccess:
        access = await self.access(user_id, channel_id)
        require(access, Permission.READ_MESSAGE_HISTORY)
        return access

    async def page_of(
        self, conn: asyncpg.Connection, rows: list[MessageRow], viewer_id: int
    ) -> Page:
        previews = await reply_previews(conn, rows)
        return Page(
            [message_view(r, previews) for r in rows],
            await reaction_counts(conn, rows, viewer_id),
            await self._blocked_among(rows, viewer_id),
        )

    async def _blocked_among(self, rows: list[MessageRow], viewer_id: int) -> frozenset[int]:
        """Authors of ``rows`` the viewer blocked; asked only when others wrote any of them.
        Best effort: if guilds cannot answer, nothing is marked (the client holds its own
        block list too, from READY and ``relationship.*``) rather than the read failing."""
        others = {int(r.author_id) for r in rows} - {viewer_id}
        if not others:
            return frozenset()
        try:
            return await self._blocks.blocked_by(viewer_id) & others
        except ApiError:
            log.warning("messages.blocks_unavailable", user_id=viewer_id)
            return frozenset()

    async def send(
        self,
        user_id: int,
        channel_id: int,
        content: str,
        reply_to_id: int | None,
        nonce: str | None,
        *,
        attachments: Sequence[int] = (),
        access: ChannelAccess | None = None,
    ) -> tuple[Page, bool]:
        """The message and whether it is new (a repeated nonce returns the first one).

        Files are linked (asked of media) before the message commits, under the message's id:
        a link refused is the caller's 4xx and nothing is written. If the commit then fails,
        the link is released again; after a crash in between, media's cleanup asks which
        messages were stored (``rpc/stored``) and gives the files of the others back (see
        docs/decisions.md). ``access``: the
        caller's, when already asked (:meth:`limited_access`)."""
        if access is None or access.channel_id != channel_id:
            access = await self.access(user_id, channel_id)
        if access.kind not in ("text", "dm", "group_dm"):
            raise BadRequest("messages go in text channels and DMs", code="not_a_text_channel")
        require(access, Permission.SEND_MESSAGES)
        if reply_to_id is not None:
            require(access, Permission.READ_MESSAGE_HISTORY)
        if attachments:
            require(access, Permission.ATTACH_FILES)
        mentions = parse_mentions(content, access)
        if nonce is not None:
            # A retry answers the first message before its files are linked a second time.
            first_page = await self._first_of(channel_id, user_id, nonce)
            if first_page is not None:
                return first_page, False
        message_id = self._platform.new_id()
        try:
            files = await self._files.link(user_id, access, message_id, attachments)
        except ApiError as refused:
            if nonce is None or refused.code != "media_already_linked":
                raise
            # A retry racing its first send: the files went to the first one's message.
            return await self._raced_retry(channel_id, user_id, nonce), False
        try:
            return await self._insert(
                access, message_id, user_id, content, reply_to_id, nonce, mentions, files
            )
        except BaseException:
            if files:
                await self._files.release(message_id)
            raise

    async def _first_of(self, channel_id: int, user_id: int, nonce: str) -> Page | None:
        async with self._platform.pool.acquire() as conn:
            first = await messages.find_by_nonce(conn, channel_id, user_id, nonce)
            return None if first is None else await self.page_of(conn, [first], user_id)

    async def _raced_retry(self, channel_id: int, user_id: int, nonce: str) -> Page:
        """The first send's message once it committed; until then a 409 to retry."""
        first_page = await self._first_of(channel_id, user_id, nonce)
        if first_page is None:
            raise Conflict(
                "a send with this nonce is still in flight: retry it",
                code="duplicate_nonce",
                headers={"Retry-After": "1"},
            )
        return first_page

    async def _insert(
        self,
        access: ChannelAccess,
        message_id: Snowflake,
        user_id: int,
        content: str,
        reply_to_id: int | None,
        nonce: str | None,
        mentions: Mentions,
        files: list[Attachment],
    ) -> tuple[Page, bool]:
        """One statement writes the message, the author's read state and its events (no
        transaction round trips, issue #15); the events leave right after, from this task,
        as :func:`~harmoniq_common.uow.unit_of_work` sends a transaction's. They are encoded
        first, so the author's name and a reply's preview are read before: the statement
        checks that both still hold, and a stale author is encoded again."""
        channel_id = access.channel_id
        new = messages.NewMessage(
            id=message_id,
            server_id=access.server_id,
            channel_id=channel_id,
            author_id=user_id,
            content=content,
            nonce=nonce,
            reply_to_id=reply_to_id,
            mention_user_ids=list(mentions.user_ids),
            mention_role_ids=list(mentions.role_ids),
            mention_everyone=mentions.everyone,
            has_link=has_link(content),
            attachments=files,
        )
        previews: dict[Snowflake, ReplyPreview] = {}
        if reply_to_id is not None:
            async with self._platform.pool.acquire() as conn:
                previews = await reply_previews(conn, [_unsaved(new, _NOBODY)])
        subjects = channel_subjects(self._platform.subjects, access, MessageCreated.event_type)
        event_ids = [self._platform.new_id() for _ in subjects]
        author = await self._authors.summary(user_id)
        for _attempt in range(_AUTHOR_ATTEMPTS):
            created_at = datetime.now(UTC)
            view = message_view(_unsaved(new, author, created_at), previews)
            event = MessageCreated(message=view)
            rows = [
                prepare(event_id, subject, event, created_at)
                for event_id, subject in zip(event_ids, subjects, strict=True)
            ]
            async with self._platform.pool.acquire() as conn:
                outcome = await messages.send(conn, new, author, created_at, rows)
            if outcome.inserted:
                await self._platform.outbox.publish_committed(rows)
                return Page([view], {}), True  # a new message has no reactions yet
            if not outcome.reply_found:
                raise BadRequest.for_field(
                    "reply_to_id", "must be a message of this channel", code="unknown_message"
                )
            if outcome.author_current:
                return await self._repeated(channel_id, user_id, nonce, files), False
            author = self._authors.correct(
                UserSummary(
                    id=Snowflake(user_id),
                    username=outcome.author_username,
                    avatar_url=outcome.author_avatar_url,
                )
            )
        raise ServiceUnavailable(
            "the author changed while sending: retry", headers={"Retry-After": "1"}
        )

    async def _repeated(
        self, channel_id: int, user_id: int, nonce: str | None, files: list[Attachment]
    ) -> Page:
        """The send wrote nothing because this author already used this nonce here."""
        assert nonce is not None
        if files:  # a concurrent retry won: its message has the files it linked
            raise Conflict(
                "this nonce was just used by another send",
                code="duplicate_nonce",
                headers={"Retry-After": "1"},
            )
        first = await self._first_of(channel_id, user_id, nonce)
        if first is None:  # deleted since: a retry must not resurrect it
            raise NotFound("unknown message", code="unknown_message")
        return first

    async def get(self, user_id: int, channel_id: int, message_id: int) -> Page:
        await self._reader(user_id, channel_id)
        async with self._platform.pool.acquire() as conn:
            row = await messages.get(conn, message_id)
            if row is None or row.channel_id != channel_id:
                raise NotFound("unknown message", code="unknown_message")
            return await self.page_of(conn, [row], user_id)

    async def history(
        self,
        user_id: int,
        channel_id: int,
        *,
        before: int | None,
        after: int | None,
        around: int | None,
        limit: int,
    ) -> Page:
        if sum(x is not None for x in (before, after, around)) > 1:
            raise BadRequest("use one of before, after and around", code="invalid_request")
        await self._reader(user_id, channel_id)
        async with self._platform.pool.acquire() as conn:
            rows = await messages.history(
                conn, channel_id, before=before, after=after, around=around, limit=limit
            )
            return await self.page_of(conn, rows, user_id)

    async def _own_message(self, tx: UnitOfWork, channel_id: int, message_id: int) -> MessageRow:
        row = await messages.get(tx.conn, message_id)
        if row is None or row.channel_id != channel_id:
            raise NotFound("unknown message", code="unknown_message")
        return row

    async def edit(self, user_id: int, channel_id: int, message_id: int, content: str) -> Page:
        access = await self.access(user_id, channel_id)
        async with unit_of_work(self._platform) as tx:
            row = await self._own_message(tx, channel_id, message_id)
            if row.author_id != user_id:
                raise Forbidden("only the author edits a message", code="not_the_author")
            mentions = parse_mentions(content, access)
            await messages.update_content(
                tx.conn,
                message_id,
                content,
                list(mentions.user_ids),
                list(mentions.role_ids),
                mentions.everyone,
                has_link(content),
                datetime.now(UTC),
            )
            updated = await self._own_message(tx, channel_id, message_id)
            page = await self.page_of(tx.conn, [updated], user_id)
            await emit_for_channel(tx, access, MessageUpdated(message=page.messages[0]))
        return page

    async def delete(self, user_id: int, channel_id: int, message_id: int) -> None:
        access = await self.access(user_id, channel_id)
        async with unit_of_work(self._platform) as tx:
            row = await self._own_message(tx, channel_id, message_id)
            if row.author_id != user_id:
                require(access, Permission.MANAGE_MESSAGES)
            await messages.delete(tx.conn, message_id)
            await emit_for_channel(
                tx,
                access,
                MessageDeleted(
                    server_id=access.server_id,
                    channel_id=Snowflake(channel_id),
                    message_id=Snowflake(message_id),
                ),
            )

    async def bulk_delete(
        self, user_id: int, channel_id: int, message_ids: list[int]
    ) -> list[Snowflake]:
        access = await self.access(user_id, channel_id)
        require(access, Permission.MANAGE_MESSAGES)
        async with unit_of_work(self._platform) as tx:
            deleted = await messages.delete_many(tx.conn, channel_id, sorted(set(message_ids)))
            if deleted:
                await emit_for_channel(
                    tx,
                    access,
                    MessagesBulkDeleted(
                        server_id=access.server_id,
                        channel_id=Snowflake(channel_id),
                        message_ids=deleted,
                    ),
                )
        return deleted

    async def set_pinned(
        self, user_id: int, channel_id: int, message_id: int, *, pinned: bool
    ) -> None:
        access = await self.access(user_id, channel_id)
        if not access.is_direct:  # in a DM, any participant pins, as in a group chat
            require(access, Permission.MANAGE_MESSAGES)
        async with unit_of_work(self._platform) as tx:
            # One pin change at a time per channel, so the limit holds under concurrency.
            await tx.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('pins'), hashtext($1))", str(channel_id)
            )
            row = await self._own_message(tx, channel_id, message_id)
            if (row.pinned_at is not None) == pinned:
                return  # already so: PUT and DELETE are idempotent
            current = await messages.pins(tx.conn, channel_id)
            if pinned and len(current) >= self._settings.max_pins_per_channel:
                raise BadRequest(
                    f"a channel holds at most {self._settings.max_pins_per_channel} pins",
                    code="too_many_pins",
                )
            now = datetime.now(UTC)
            await messages.set_pinned(tx.conn, message_id, now if pinned else None)
            remaining = [p.pinned_at for p in current if p.id != message_id and p.pinned_at]
            last = now if pinned else max(remaining, default=None)
            await emit_for_channel(
                tx,
                access,
                PinUpdated(
                    server_id=access.server_id,
                    channel_id=Snowflake(channel_id),
                    message_id=Snowflake(message_id),
                    pinned=pinned,
                    last_pin_at=last,
                ),
            )

    async def pins(self, user_id: int, channel_id: int) -> Page:
        await self._reader(user_id, channel_id)
        async with self._platform.pool.acquire() as conn:
            return await self.page_of(conn, await messages.pins(conn, channel_id), user_id)
