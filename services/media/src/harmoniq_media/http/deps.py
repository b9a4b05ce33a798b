"""Providers for the media controllers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from harmoniq_common.auth import Principal

from ..domain.direct_uploads import DirectUploads
from ..domain.serving import Serving
from ..domain.uploads import Uploads

__all__ = ["Domain", "UserRequest", "dependencies"]

UserRequest = Request[Principal, str, Any]


@dataclass(frozen=True)
class Domain:
    uploads: Uploads
    direct_uploads: DirectUploads
    serving: Serving


def provide_domain(state: State) -> Domain:
    domain: Domain = state.media_domain
    return domain


def dependencies() -> dict[str, Provide]:
    return {"domain": Provide(provide_domain, sync_to_thread=False)}
