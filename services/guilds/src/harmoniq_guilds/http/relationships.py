"""``/api/v1/users/@me/relationships``: friends, friend requests and blocks."""

from __future__ import annotations

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from harmoniq_common.errors import Forbidden
from harmoniq_common.events import RelationshipView
from harmoniq_common.ids import Snowflake
from harmoniq_common.openapi import error_responses
from harmoniq_common.ratelimit import RateLimit, limit_request

from ..domain.relationships import relationship_view
from ..settings import GuildsSettings
from .deps import G, UserRequest, dependencies
from .direct_schemas import FriendRequest, RelationshipSet

__all__ = ["RelationshipsController"]


async def _limited(request: UserRequest) -> None:
    """Bots have no friends; people send a bounded number of requests and blocks."""
    if request.user.kind == "bot":
        raise Forbidden("bots have no relationships", code="bots_cannot")
    settings: GuildsSettings = request.app.state.platform.settings
    await limit_request(
        request,
        request.app.state.platform.limiter,
        RateLimit(
            "relationship",
            settings.relationship_rate_limit,
            settings.relationship_rate_period_seconds,
        ),
        str(request.user.user_id),
    )


class RelationshipsController(Controller):
    path = "/api/v1/users/@me/relationships"
    tags = ["relationships"]
    dependencies = dependencies()

    @get("/", operation_id="listRelationships")
    async def list_mine(self, request: UserRequest, guilds: G) -> list[RelationshipView]:
        """Friends, requests both ways, and the people the caller blocked."""
        rows = await guilds.relationships.list_all(request.user.user_id)
        return [relationship_view(r) for r in rows]

    @post(
        "/",
        operation_id="sendFriendRequest",
        status_code=HTTP_200_OK,
        responses=error_responses(404),
    )
    async def request_friend(
        self, request: UserRequest, data: JSONBody[FriendRequest], guilds: G
    ) -> RelationshipView:
        """A friend request by username (or accepting theirs, if they asked first)."""
        await _limited(request)
        row = await guilds.relationships.request_by_name(request.user.user_id, data.username)
        return relationship_view(row)

    @put("/{user_id:str}", operation_id="setRelationship")
    async def set_relationship(
        self,
        request: UserRequest,
        user_id: FromPath[Snowflake],
        data: JSONBody[RelationshipSet],
        guilds: G,
    ) -> RelationshipView:
        """``friend``: send a request or accept theirs; ``blocked``: block them."""
        await _limited(request)
        if data.kind == "friend":
            row = await guilds.relationships.befriend(request.user.user_id, user_id)
        else:
            row = await guilds.relationships.block(request.user.user_id, user_id)
        return relationship_view(row)

    @delete("/{user_id:str}", operation_id="removeRelationship", status_code=HTTP_204_NO_CONTENT)
    async def remove(self, request: UserRequest, user_id: FromPath[Snowflake], guilds: G) -> None:
        """Unfriend, decline, cancel a request, or unblock."""
        if request.user.kind == "bot":
            raise Forbidden("bots have no relationships", code="bots_cannot")
        await guilds.relationships.remove(request.user.user_id, user_id)
