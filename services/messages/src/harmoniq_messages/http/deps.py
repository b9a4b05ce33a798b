"""Providers for the messages controllers, and the shape of their answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from harmoniq_common.auth import Principal

from ..domain.messages import Messages, Page
from ..domain.reactions import Reactions
from ..domain.read_states import ReadStateBook
from ..domain.search import Search
from .schemas import MessageOut, ReactionOut

__all__ = ["D", "Domain", "UserRequest", "dependencies", "render"]

UserRequest = Request[Principal, str, Any]


@dataclass(frozen=True)
class Domain:
    messages: Messages
    reactions: Reactions
    search: Search
    read_states: ReadStateBook


D = NamedDependency[Domain]


def provide_domain(state: State) -> Domain:
    domain: Domain = state.messages_domain
    return domain


def render(page: Page) -> list[MessageOut]:
    return [
        MessageOut(
            **msgspec.structs.asdict(view),
            reactions=[
                ReactionOut(emoji=r.emoji, count=r.count, me=r.me)
                for r in page.reactions.get(view.id, [])
            ],
            author_blocked=True if int(view.author.id) in page.blocked_authors else msgspec.UNSET,
        )
        for view in page.messages
    ]


def dependencies() -> dict[str, Provide]:
    return {"domain": Provide(provide_domain, sync_to_thread=False)}
