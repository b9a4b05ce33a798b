"""Providers for the voice controllers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from harmoniq_common.auth import Principal

from ..domain.doctor import Doctor
from ..domain.states import Voice
from ..settings import VoiceSettings

__all__ = ["D", "Domain", "UserRequest", "dependencies"]

UserRequest = Request[Principal, str, Any]


@dataclass(frozen=True)
class Domain:
    settings: VoiceSettings
    voice: Voice
    doctor: Doctor


def provide_domain(state: State) -> Domain:
    domain: Domain = state.voice_domain
    return domain


def dependencies() -> dict[str, Provide]:
    return {"domain": Provide(provide_domain, sync_to_thread=False)}


D = NamedDependency[Domain]
