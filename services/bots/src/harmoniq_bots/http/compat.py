"""Executing a webhook with another service's payload: Slack's
(``/api/v1/webhooks/{id}/{token}/slack``) and GitHub's deliveries
(``/api/v1/webhooks/{id}/{token}/github``). Same token, same 404, same rate limit as the
Discord-shaped execute; only the translation differs (``domain/compat``)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, MediaType, Response, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from harmoniq_common.errors import BadRequest, ErrorBody, Unauthorized
from harmoniq_common.ids import Snowflake
from harmoniq_common.ratelimit import limit_request
from harmoniq_common.validation import anchored

from ..domain.compat.github import from_github, signature_matches
from ..domain.compat.slack import from_slack
from ..domain.execute import Execution
from ..store.rows import WebhookRow
from .deps import AnyRequest, Domain, dependencies
from .schemas import SlackIn
from .webhooks import BASE, EXECUTE_ANSWERS, Token

__all__ = ["CompatController", "post_as"]

D = NamedDependency[Domain]
GitHubEvent = Annotated[
    str | None,
    HeaderParameter(
        name="X-GitHub-Event",
        pattern=anchored("[a-z_]{1,64}"),
        description="the delivery's event (ping, push, issues, pull_request, release…)",
    ),
]
Signature = Annotated[
    str | None,
    HeaderParameter(name="X-Hub-Signature-256", max_length=128, description="sha256=<hex HMAC>"),
]
GITHUB_ANSWERS = {
    204: ResponseSpec(data_container=None, description="Posted, or an event not shown."),
    401: ResponseSpec(
        data_container=ErrorBody,
        description="The webhook has a GitHub secret and the signature is missing or wrong "
        "(`invalid_signature`).",
        generate_examples=False,
    ),
    429: EXECUTE_ANSWERS[429],
}


async def post_as(
    request: AnyRequest, domain: Domain, row: WebhookRow, execution: Execution
) -> None:
    """Admit the call by the webhook's rate limit, and post."""
    await limit_request(
        request, request.app.state.platform.limiter, domain.executor.limit, str(row.id)
    )
    await domain.executor.post(row, execution)


class CompatController(Controller):
    path = BASE
    tags = ["webhooks"]
    dependencies = dependencies()

    @post(
        "/{webhook_id:str}/{token:str}/slack",
        operation_id="executeSlackWebhook",
        exclude_from_auth=True,
        status_code=HTTP_200_OK,
        media_type=MediaType.TEXT,
        responses={429: EXECUTE_ANSWERS[429]},
    )
    async def slack(
        self,
        request: AnyRequest,
        webhook_id: FromPath[Snowflake],
        token: Token,
        data: JSONBody[SlackIn],
        domain: D,
    ) -> str:
        """A Slack incoming-webhook payload; answers ``ok`` as Slack does."""
        payload: dict[str, Any] = {
            "text": data.text,
            "username": data.username,
            "icon_url": data.icon_url,
            "attachments": data.attachments,
            "blocks": data.blocks,
        }
        row = await domain.webhooks.by_token(webhook_id, token)
        await post_as(request, domain, row, from_slack(payload))
        return "ok"

    @post(
        "/{webhook_id:str}/{token:str}/github",
        operation_id="executeGitHubWebhook",
        exclude_from_auth=True,
        status_code=HTTP_204_NO_CONTENT,
        responses=GITHUB_ANSWERS,
    )
    async def github(
        self,
        request: AnyRequest,
        webhook_id: FromPath[Snowflake],
        token: Token,
        event: GitHubEvent,
        signature: Signature,
        data: JSONBody[dict[str, Any]],
        domain: D,
    ) -> Response[None]:
        """A GitHub delivery (JSON): ping, push, issues, pull_request and release become a
        message; other events are acknowledged and not posted."""
        if event is None:
            raise BadRequest.for_field("X-GitHub-Event", "GitHub names the event in this header")
        row = await domain.webhooks.by_token(webhook_id, token)
        if row.github_secret is not None and not signature_matches(
            row.github_secret, await request.body(), signature
        ):
            raise Unauthorized("the delivery's signature does not match", code="invalid_signature")
        execution = from_github(event, data)
        if execution is not None:
            await post_as(request, domain, row, execution)
        return Response(None, status_code=HTTP_204_NO_CONTENT)
