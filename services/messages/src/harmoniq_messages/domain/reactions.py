"""Reactions: add and remove one's own, remove others' (moderators), list who reacted."""

from __future__ import annotations

import emoji as emoji_data

from harmoniq_common.errors import BadRequest, NotFound
from harmoniq_common.events import ReactionAdded, ReactionRemoved, UserSummary
from harmoniq_common.ids import Snowflake
from harmoniq_common.permissions import Permission
from harmoniq_common.platform import Platform
from harmoniq_common.uow import UnitOfWork, unit_of_work

from ..settings import MessagesSettings
from ..store import messages, reactions
from .fanout import emit_for_channel
from .messages import Messages, require

__all__ = ["Reactions", "valid_emoji"]


def valid_emoji(text: str) -> str:
    """One Unicode emoji (with its skin tone, ZWJ sequence or keycap), else 400.

    Custom server emoji will come with their own ids; until then only Unicode ones exist.
    """
    if len(text) > 32 or not emoji_data.is_emoji(text):
        raise BadRequest.for_field("emoji", "must be a single Unicode emoji", code="unknown_emoji")
    return text


class Reactions:
    def __init__(self, platform: Platform, settings: MessagesSettings, messages: Messages) -> None:
        self._platform = platform
        self._settings = settings
        self._messages = messages

    async def _message_in(self, tx: UnitOfWork, channel_id: int, message_id: int) -> None:
        row = await messages.get(tx.conn, message_id)
        if row is None or row.channel_id != channel_id:
            raise NotFound("unknown message", code="unknown_message")

    async def add(self, user_id: int, channel_id: int, message_id: int, emoji: str) -> None:
        emoji = valid_emoji(emoji)
        access = await self._messages.access(user_id, channel_id)
        require(access, Permission.READ_MESSAGE_HISTORY)
        async with unit_of_work(self._platform) as tx:
            await tx.conn.execute("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", message_id)
            await self._message_in(tx, channel_id, message_id)
            if not await reactions.has_emoji(tx.conn, message_id, emoji):
                # Joining an existing reaction is allowed to anyone who can read; starting a
                # new one takes ADD_REACTIONS, and a message has a bounded set of them.
                require(access, Permission.ADD_REACTIONS)
                limit = self._settings.max_reaction_emoji_per_message
                if await reactions.distinct_emoji(tx.conn, message_id) >= limit:
                    raise BadRequest(
                        f"a message holds at most {limit} different reactions",
                        code="too_many_reactions",
                    )
            if await reactions.add(tx.conn, message_id, emoji, user_id):
                await emit_for_channel(
                    tx,
                    access,
                    ReactionAdded(
                        server_id=access.server_id,
                        channel_id=Snowflake(channel_id),
                        message_id=Snowflake(message_id),
                        user_id=Snowflake(user_id),
                        emoji=emoji,
                    ),
                )

    async def remove(
        self, user_id: int, channel_id: int, message_id: int, emoji: str, target_id: int
    ) -> None:
        emoji = valid_emoji(emoji)
        access = await self._messages.access(user_id, channel_id)
        if target_id != user_id:
            require(access, Permission.MANAGE_MESSAGES)
        async with unit_of_work(self._platform) as tx:
            await self._message_in(tx, channel_id, message_id)
            if await reactions.remove(tx.conn, message_id, emoji, target_id):
                await emit_for_channel(
                    tx,
                    access,
                    ReactionRemoved(
                        server_id=access.server_id,
                        channel_id=Snowflake(channel_id),
                        message_id=Snowflake(message_id),
                        user_id=Snowflake(target_id),
                        emoji=emoji,
                    ),
                )

    async def users(
        self, user_id: int, channel_id: int, message_id: int, emoji: str, after: int, limit: int
    ) -> list[UserSummary]:
        emoji = valid_emoji(emoji)
        access = await self._messages.access(user_id, channel_id)
        require(access, Permission.READ_MESSAGE_HISTORY)
        async with self._platform.pool.acquire() as conn:
            row = await messages.get(conn, message_id)
            if row is None or row.channel_id != channel_id:
                raise NotFound("unknown message", code="unknown_message")
            found = await reactions.users(conn, message_id, emoji, after, limit)
        return [UserSummary(id=i, username=name, avatar_url=avatar) for i, name, avatar in found]
