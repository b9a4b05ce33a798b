"""Providers for the bots controllers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from harmoniq_common.auth import Principal

from ..domain.execute import Executor
from ..domain.installs import Installations
from ..domain.outgoing import Outgoing
from ..domain.webhooks import Webhooks

__all__ = ["AnyRequest", "Domain", "UserRequest", "dependencies"]

UserRequest = Request[Principal, str, Any]
AnyRequest = Request[Any, Any, Any]


@dataclass(frozen=True)
class Domain:
    webhooks: Webhooks
    executor: Executor
    installations: Installations
    outgoing: Outgoing


def provide_domain(state: State) -> Domain:
    domain: Domain = state.bots_domain
    return domain


def dependencies() -> dict[str, Provide]:
    return {"domain": Provide(provide_domain, sync_to_thread=False)}
