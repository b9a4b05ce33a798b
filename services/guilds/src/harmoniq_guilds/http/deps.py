"""Providers for the guilds controllers, and the audit-log reason header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import unquote

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter
from msgspec import UNSET

from harmoniq_common.auth import Principal
from harmoniq_common.errors import BadRequest
from harmoniq_common.validation import single_line

from ..domain.channels import Channels
from ..domain.direct import DirectMessages
from ..domain.invites import Invites
from ..domain.members import Members
from ..domain.relationships import Relationships
from ..domain.roles import Roles
from ..domain.servers import Servers

__all__ = ["G", "Guilds", "PageSize", "UserRequest", "dependencies", "reason", "unset_as_none"]

UserRequest = Request[Principal, str, Any]
AUDIT_REASON_HEADER = "x-audit-log-reason"
AUDIT_REASON_FIELD = "X-Audit-Log-Reason"
PageSize = Annotated[int, QueryParameter(name="limit", ge=1, le=1000)]


@dataclass(frozen=True)
class Guilds:
    """The domain entry points, built once per app."""

    servers: Servers
    channels: Channels
    roles: Roles
    members: Members
    invites: Invites
    direct: DirectMessages
    relationships: Relationships


G = NamedDependency[Guilds]


def provide_guilds(state: State) -> Guilds:
    guilds: Guilds = state.guilds
    return guilds


def reason(request: Request[Any, Any, Any]) -> str | None:
    """``X-Audit-Log-Reason`` (URL-encoded, one line of at most 512 characters)."""
    raw = request.headers.get(AUDIT_REASON_HEADER)
    if raw is None:
        return None
    text = single_line(AUDIT_REASON_FIELD, unquote(raw).strip())
    if len(text) > 512:
        raise BadRequest.for_field(AUDIT_REASON_FIELD, "at most 512 characters")
    return text or None


def unset_as_none(value: Any) -> Any:
    """A PATCH body's field: ``None`` when the client left it out."""
    return None if value is UNSET else value


def dependencies() -> dict[str, Provide]:
    return {"guilds": Provide(provide_guilds, sync_to_thread=False)}
