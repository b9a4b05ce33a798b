"""``/api/v1/channels/{id}/messages``: send, read, edit, delete, bulk delete, pins, reactions."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.auth import REVOCATION_IN_HANDLER
from harmoniq_common.errors import BadRequest
from harmoniq_common.ids import Snowflake
from harmoniq_common.ratelimit import RateLimit, record_decision

from ..settings import MessagesSettings
from .deps import Domain, UserRequest, dependencies, render
from .schemas import BulkDelete, MessageCreate, MessageEdit, MessageOut, UserSummary

__all__ = ["MessagesController"]

D = NamedDependency[Domain]
Cursor = FromQuery[Snowflake | None]
Limit = Annotated[int, QueryParameter(ge=1, le=100)]


class MessagesController(Controller):
    path = "/api/v1/channels/{channel_id:str}/messages"
    tags = ["messages"]
    dependencies = dependencies()

    # Revocation is asked in the handler's one Redis call, with the rate limit and the access
    # cache (the middleware checks the token's signature and claims only).
    @post(
        "/",
        operation_id="sendMessage",
        status_code=HTTP_201_CREATED,
        opt={REVOCATION_IN_HANDLER: True},
    )
    async def send(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        data: JSONBody[MessageCreate],
        domain: D,
    ) -> Response[MessageOut]:
        """Post a message (SEND_MESSAGES). A repeated ``nonce`` answers 200 with the first one."""
        settings: MessagesSettings = request.app.state.platform.settings
        # First of all: the caller's revocation, the rate limit and the access cache.
        decision, access = await domain.messages.limited_access(
            request.user,
            RateLimit("send", settings.send_rate_limit, settings.send_rate_period_seconds),
            f"{request.user.user_id}:{channel_id}",
            channel_id,
        )
        record_decision(request, decision)
        if data.content is None and not data.attachments:
            raise BadRequest.for_field(
                "content", "a message needs content, attachments or both", code="empty_message"
            )
        page, created = await domain.messages.send(
            request.user.user_id,
            channel_id,
            data.content or "",
            data.reply_to_id,
            data.nonce,
            attachments=data.attachments,
            access=access,
        )
        return Response(render(page)[0], status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get("/", operation_id="listMessages")
    async def history(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        domain: D,
        before: Cursor = None,
        after: Cursor = None,
        around: Cursor = None,
        limit: Limit = 50,
    ) -> list[MessageOut]:
        """Newest first; at most one of ``before``/``after``/``around`` (READ_MESSAGE_HISTORY)."""
        page = await domain.messages.history(
            request.user.user_id, channel_id, before=before, after=after, around=around, limit=limit
        )
        return render(page)

    @get("/pins", operation_id="listPins")
    async def pins(
        self, request: UserRequest, channel_id: FromPath[Snowflake], domain: D
    ) -> list[MessageOut]:
        """Pinned messages, most recently pinned first."""
        return render(await domain.messages.pins(request.user.user_id, channel_id))

    @post("/bulk-delete", operation_id="bulkDeleteMessages", status_code=HTTP_204_NO_CONTENT)
    async def bulk_delete(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        data: JSONBody[BulkDelete],
        domain: D,
    ) -> None:
        """Delete 2 to 100 messages of this channel at once (MANAGE_MESSAGES)."""
        await domain.messages.bulk_delete(request.user.user_id, channel_id, list(data.message_ids))

    @get("/{message_id:str}", operation_id="getMessage")
    async def get_message(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        domain: D,
    ) -> MessageOut:
        page = await domain.messages.get(request.user.user_id, channel_id, message_id)
        return render(page)[0]

    @patch("/{message_id:str}", operation_id="editMessage")
    async def edit(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        data: JSONBody[MessageEdit],
        domain: D,
    ) -> MessageOut:
        """New content (author only); ``edited_at`` records when."""
        page = await domain.messages.edit(
            request.user.user_id, channel_id, message_id, data.content
        )
        return render(page)[0]

    @delete("/{message_id:str}", operation_id="deleteMessage", status_code=HTTP_204_NO_CONTENT)
    async def delete_message(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        domain: D,
    ) -> None:
        """The author, or anyone with MANAGE_MESSAGES."""
        await domain.messages.delete(request.user.user_id, channel_id, message_id)

    @put("/{message_id:str}/pin", operation_id="pinMessage", status_code=HTTP_204_NO_CONTENT)
    async def pin(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        domain: D,
    ) -> None:
        await domain.messages.set_pinned(request.user.user_id, channel_id, message_id, pinned=True)

    @delete("/{message_id:str}/pin", operation_id="unpinMessage", status_code=HTTP_204_NO_CONTENT)
    async def unpin(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        domain: D,
    ) -> None:
        await domain.messages.set_pinned(request.user.user_id, channel_id, message_id, pinned=False)

    # -- reactions ---------------------------------------------------------------------------

    @put(
        "/{message_id:str}/reactions/{emoji:str}/@me",
        operation_id="addReaction",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def react(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        emoji: FromPath[str],
        domain: D,
    ) -> None:
        """React (idempotent). A new emoji on the message takes ADD_REACTIONS."""
        await domain.reactions.add(request.user.user_id, channel_id, message_id, emoji)

    @delete(
        "/{message_id:str}/reactions/{emoji:str}/@me",
        operation_id="removeOwnReaction",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def unreact(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        emoji: FromPath[str],
        domain: D,
    ) -> None:
        me = request.user.user_id
        await domain.reactions.remove(me, channel_id, message_id, emoji, me)

    @delete(
        "/{message_id:str}/reactions/{emoji:str}/{user_id:str}",
        operation_id="removeReaction",
        status_code=HTTP_204_NO_CONTENT,
    )
    async def remove_reaction(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        emoji: FromPath[str],
        user_id: FromPath[Snowflake],
        domain: D,
    ) -> None:
        """Someone else's reaction (MANAGE_MESSAGES)."""
        await domain.reactions.remove(request.user.user_id, channel_id, message_id, emoji, user_id)

    @get("/{message_id:str}/reactions/{emoji:str}", operation_id="listReactionUsers")
    async def reaction_users(
        self,
        request: UserRequest,
        channel_id: FromPath[Snowflake],
        message_id: FromPath[Snowflake],
        emoji: FromPath[str],
        domain: D,
        after: Cursor = None,
        limit: Limit = 25,
    ) -> list[UserSummary]:
        """Who reacted with this emoji, by user id after the cursor."""
        return await domain.reactions.users(
            request.user.user_id, channel_id, message_id, emoji, after or 0, limit
        )
