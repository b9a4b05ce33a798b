"""``/api/v1/servers/{id}/outgoing-webhooks``: endpoints that receive the server's events,
signed (``MANAGE_WEBHOOKS``), and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.params import JSONBody as Body
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT
from msgspec import Meta

from harmoniq_common.ids import Snowflake

from ..store.outgoing import DeliveryRow, EndpointRow
from .deps import Domain, UserRequest, dependencies

__all__ = ["OutgoingWebhooksController"]

D = NamedDependency[Domain]

# The server events an endpoint may take (a user's own events never leave for an endpoint).
EventType = Literal[
    "ban.added",
    "ban.removed",
    "channel.created",
    "channel.deleted",
    "channel.updated",
    "invite.created",
    "invite.deleted",
    "member.joined",
    "member.left",
    "member.updated",
    "message.bulk_delete",
    "message.create",
    "message.delete",
    "message.update",
    "pin.update",
    "reaction.add",
    "reaction.remove",
    "role.created",
    "role.deleted",
    "role.updated",
    "server.deleted",
    "server.updated",
    "voice.state_update",
    "webhook.create",
    "webhook.delete",
    "webhook.update",
]
EventTypes = Annotated[list[EventType], Meta(min_length=1, max_length=32)]
EndpointUrl = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=2048,
        pattern=r"^https?://[^\s\x00-\x1f\x7f-\x9f]+$",
        description="https (http only where private targets are allowed)",
    ),
]


class EndpointCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: EndpointUrl
    events: EventTypes
    bot_id: Snowflake | None = None  # deliveries respect this installed bot's view


class EndpointEdit(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    url: EndpointUrl | None = None
    events: EventTypes | None = None
    enabled: bool | None = None  # true re-enables a disabled endpoint


class EndpointOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: Snowflake
    server_id: Snowflake
    creator_id: Snowflake
    viewer_id: Snowflake
    url: str
    events: list[str]
    enabled: bool
    failures: int
    disabled_at: datetime | None
    created_at: datetime
    secret: str | None = None  # the signing key: only in the answer that created it


class DeliveryOut(msgspec.Struct, kw_only=True):
    id: Snowflake
    event_id: Snowflake
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def render(row: EndpointRow, *, with_secret: bool = False) -> EndpointOut:
    return EndpointOut(
        id=row.id,
        server_id=row.server_id,
        creator_id=row.creator_id,
        viewer_id=row.viewer_id,
        url=row.url,
        events=row.event_types,
        enabled=row.enabled,
        failures=row.failures,
        disabled_at=row.disabled_at,
        created_at=row.created_at,
        secret=row.secret if with_secret else None,
    )


def render_delivery(row: DeliveryRow) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


class OutgoingWebhooksController(Controller):
    path = "/api/v1/servers/{server_id:str}/outgoing-webhooks"
    tags = ["webhooks"]
    dependencies = dependencies()

    @post("/", operation_id="createOutgoingWebhook", status_code=HTTP_201_CREATED)
    async def create(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        data: Body[EndpointCreate],
        domain: D,
    ) -> EndpointOut:
        """Register an endpoint for some of the server's events. The answer carries the
        signing secret: the only time it is shown."""
        row = await domain.outgoing.create(
            request.user.user_id, server_id, data.url, list(data.events), data.bot_id
        )
        return render(row, with_secret=True)

    @get("/", operation_id="listOutgoingWebhooks")
    async def list_endpoints(
        self, request: UserRequest, server_id: FromPath[Snowflake], domain: D
    ) -> list[EndpointOut]:
        return [render(r) for r in await domain.outgoing.list_all(request.user.user_id, server_id)]

    @patch("/{endpoint_id:str}", operation_id="editOutgoingWebhook")
    async def edit(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        endpoint_id: FromPath[Snowflake],
        data: Body[EndpointEdit],
        domain: D,
    ) -> EndpointOut:
        row = await domain.outgoing.edit(
            request.user.user_id,
            server_id,
            endpoint_id,
            url=data.url,
            event_types=None if data.events is None else list(data.events),
            enabled=data.enabled,
        )
        return render(row)

    @delete(
        "/{endpoint_id:str}", operation_id="deleteOutgoingWebhook", status_code=HTTP_204_NO_CONTENT
    )
    async def remove(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        endpoint_id: FromPath[Snowflake],
        domain: D,
    ) -> None:
        await domain.outgoing.delete(request.user.user_id, server_id, endpoint_id)

    @get("/{endpoint_id:str}/deliveries", operation_id="listOutgoingDeliveries")
    async def deliveries(
        self,
        request: UserRequest,
        server_id: FromPath[Snowflake],
        endpoint_id: FromPath[Snowflake],
        domain: D,
        before: FromQuery[Snowflake] = Snowflake((1 << 63) - 1),
        limit: Annotated[int, Meta(ge=1, le=100)] = 50,
    ) -> list[DeliveryOut]:
        """The endpoint's deliveries, newest first (``before`` an id, for the next page)."""
        rows = await domain.outgoing.deliveries(
            request.user.user_id, server_id, endpoint_id, before, limit
        )
        return [render_delivery(r) for r in rows]
