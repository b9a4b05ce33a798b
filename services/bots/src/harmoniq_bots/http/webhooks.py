"""Webhooks: a server's (``/api/v1/servers/{id}/webhooks``), one by id for its managers
(``/api/v1/webhooks/{id}``), and one by its token, with no Authorization header
(``/api/v1/webhooks/{id}/{token}``: execute, read, edit, delete)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from harmoniq_common.errors import ErrorBody
from harmoniq_common.events import MessageView
from harmoniq_common.ids import Snowflake
from harmoniq_common.ratelimit import limit_request

from ..domain.execute import Execution
from ..domain.webhooks import Change, Created
from ..store.rows import WebhookRow
from .deps import AnyRequest, Domain, UserRequest, dependencies
from .schemas import ExecuteIn, WebhookCreate, WebhookEdit, WebhookOut, WebhookTokenEdit

__all__ = ["ServerWebhooksController", "WebhookTokenController", "WebhooksController"]

D = NamedDependency[Domain]
BASE = "/api/v1/webhooks"
# A token is a path segment; refusing it by shape would tell a wrong token from a malformed one.
Token = Annotated[str, Parameter(description="the webhook's token", max_length=256)]

EXECUTE_ANSWERS = {
    204: ResponseSpec(data_container=None, description="Posted (without `wait=true`)."),
    429: ResponseSpec(
        data_container=ErrorBody,
        description="Over the webhook's rate limit (`rate_limited`, with `Retry-After`).",
        generate_examples=False,
    ),
}


def render(row: WebhookRow, created: Created | None = None) -> WebhookOut:
    out = WebhookOut(
        id=row.id,
        server_id=row.server_id,
        channel_id=row.channel_id,
        name=row.name,
        avatar_url=row.avatar_url,
        creator_id=row.creator_id,
        created_at=row.created_at,
        github_secret_set=row.github_secret is not None,
    )
    if created is not None:
        out.token = created.token
        out.url = f"{BASE}/{row.id}/{created.token}"
    return out


def _change(data: WebhookEdit | WebhookTokenEdit) -> Change:
    return Change(
        name=data.name,
        avatar_url=data.avatar_url,
        channel_id=getattr(data, "channel_id", msgspec.UNSET),
        github_secret=getattr(data, "github_secret", msgspec.UNSET),
        avatar_id=getattr(data, "avatar_id", msgspec.UNSET),
    )


class ServerWebhooksController(Controller):
    path = "/api/v1/servers/{server_id:str}/webhooks"
    tags = ["webhooks"]
    dependencies = dependencies()

    @post("/", operation_id="createWebhook", status_code=HTTP_201_CREATED)
    async def create(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: JSONBody[WebhookCreate],
        domain: D,
    ) -> WebhookOut:
        """A webhook in one of the server's text channels (``MANAGE_WEBHOOKS`` there). The
        answer carries its token and URL: the only time they are shown."""
        created = await domain.webhooks.create(
            request.user.user_id,
            server_id,
            data.channel_id,
            data.name,
            data.avatar_url,
            data.github_secret,
            data.avatar_id,
        )
        return render(created.row, created)

    @get("/", operation_id="listWebhooks")
    async def list_webhooks(
        self, request: UserRequest, server_id: FromPath[Snowflake], domain: D
    ) -> list[WebhookOut]:
        """The webhooks of the channels where the caller has ``MANAGE_WEBHOOKS``."""
        rows = await domain.webhooks.of_server(request.user.user_id, server_id)
        return [render(row) for row in rows]


class WebhooksController(Controller):
    path = BASE
    tags = ["webhooks"]
    dependencies = dependencies()

    @get("/{webhook_id:str}", operation_id="getWebhook")
    async def fetch(
        self, request: UserRequest, webhook_id: FromPath[Snowflake], domain: D
    ) -> WebhookOut:
        return render(await domain.webhooks.get(request.user.user_id, webhook_id))

    @patch("/{webhook_id:str}", operation_id="editWebhook")
    async def edit(
        self,
        request: UserRequest,
        webhook_id: FromPath[Snowflake],
        data: JSONBody[WebhookEdit],
        domain: D,
    ) -> WebhookOut:
        """Rename, change the avatar, or move it (``MANAGE_WEBHOOKS`` in both channels)."""
        row = await domain.webhooks.edit(request.user.user_id, webhook_id, _change(data))
        return render(row)

    @delete("/{webhook_id:str}", operation_id="deleteWebhook", status_code=HTTP_204_NO_CONTENT)
    async def remove(
        self, request: UserRequest, webhook_id: FromPath[Snowflake], domain: D
    ) -> None:
        await domain.webhooks.delete(request.user.user_id, webhook_id)

    @post("/{webhook_id:str}/token", operation_id="regenerateWebhookToken", status_code=HTTP_200_OK)
    async def regenerate(
        self, request: UserRequest, webhook_id: FromPath[Snowflake], domain: D
    ) -> WebhookOut:
        """A new token, shown once; the old one stops working at once."""
        created = await domain.webhooks.regenerate(request.user.user_id, webhook_id)
        return render(created.row, created)


class WebhookTokenController(Controller):
    """No Authorization: the token in the path is the credential. An unknown webhook and a
    wrong token are the same ``404 unknown_webhook``."""

    path = BASE
    tags = ["webhooks"]
    dependencies = dependencies()

    @post(
        "/{webhook_id:str}/{token:str}",
        operation_id="executeWebhook",
        exclude_from_auth=True,
        status_code=HTTP_200_OK,
        responses=EXECUTE_ANSWERS,
    )
    async def execute(
        self,
        request: AnyRequest,
        webhook_id: FromPath[Snowflake],
        token: Token,
        data: JSONBody[ExecuteIn],
        domain: D,
        wait: FromQuery[bool] = False,
    ) -> Response[MessageView | None]:
        """Post a message as the webhook: 204, or with ``?wait=true`` 200 and the message."""
        row = await domain.webhooks.by_token(webhook_id, token)
        await limit_request(
            request, request.app.state.platform.limiter, domain.executor.limit, str(row.id)
        )
        message = await domain.executor.post(
            row,
            Execution(
                content=data.content,
                username=data.username,
                avatar_url=data.avatar_url,
                embeds=data.embeds,
                allowed_mentions=data.allowed_mentions,
            ),
        )
        if wait:
            return Response(message, status_code=HTTP_200_OK)
        return Response(None, status_code=HTTP_204_NO_CONTENT)

    @get(
        "/{webhook_id:str}/{token:str}", operation_id="getWebhookWithToken", exclude_from_auth=True
    )
    async def fetch(self, webhook_id: FromPath[Snowflake], token: Token, domain: D) -> WebhookOut:
        return render(await domain.webhooks.by_token(webhook_id, token))

    @patch(
        "/{webhook_id:str}/{token:str}", operation_id="editWebhookWithToken", exclude_from_auth=True
    )
    async def edit(
        self,
        webhook_id: FromPath[Snowflake],
        token: Token,
        data: JSONBody[WebhookTokenEdit],
        domain: D,
    ) -> WebhookOut:
        row = await domain.webhooks.edit_with_token(webhook_id, token, _change(data))
        return render(row)

    @delete(
        "/{webhook_id:str}/{token:str}",
        operation_id="deleteWebhookWithToken",
        exclude_from_auth=True,
        status_code=HTTP_204_NO_CONTENT,
    )
    async def remove(self, webhook_id: FromPath[Snowflake], token: Token, domain: D) -> None:
        await domain.webhooks.delete_with_token(webhook_id, token)
