"""The messages service application: ``uvicorn --factory harmoniq_messages.app:create_app``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from harmoniq_common.access import AccessCache
from harmoniq_common.app import create_service_app
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .domain.cleanup import Cleanup
from .domain.messages import Messages
from .domain.reactions import Reactions
from .domain.read_states import ReadStateBook
from .domain.search import Search
from .events.guilds import guild_events_consumer
from .events.users import user_events_consumer
from .http.deps import Domain
from .http.messages import MessagesController
from .http.read_states import AckController, NotificationSettingsController
from .http.search import ChannelSearchController, ServerSearchController
from .rpc.read_states import serve_read_states
from .rpc.stored import serve_stored_messages
from .rpc.webhooks import serve_webhook_messages
from .settings import MessagesSettings

__all__ = ["create_app"]


def _domain(
    settings: MessagesSettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        access = AccessCache(platform.redis, platform.nats, platform.subjects)
        messages = Messages(platform, settings, access)
        book = ReadStateBook(platform, access, settings.ack_coalesce_seconds)
        app.state.messages_domain = Domain(
            messages=messages,
            reactions=Reactions(platform, settings, messages),
            search=Search(platform, access, messages),
            read_states=book,
        )
        consumers = [
            user_events_consumer(platform),
            guild_events_consumer(platform, Cleanup(platform, settings)),
        ]
        for consumer in consumers:
            await consumer.start()
        read_states_rpc = await serve_read_states(platform, book)
        webhook_posts = await serve_webhook_messages(platform)  # asked by services/bots
        stored_rpc = await serve_stored_messages(platform)  # asked by media's cleanup
        try:
            yield
        finally:
            await stored_rpc.unsubscribe()
            await webhook_posts.unsubscribe()
            await read_states_rpc.unsubscribe()
            await book.close()
            for consumer in consumers:
                await consumer.stop()

    return extend


def create_app(settings: MessagesSettings | None = None) -> Litestar:
    settings = settings or load_settings(MessagesSettings)
    return create_service_app(
        settings,
        route_handlers=[
            MessagesController,
            ChannelSearchController,
            ServerSearchController,
            AckController,
            NotificationSettingsController,
        ],
        title="Harmoniq messages",
        extend=_domain(settings),
    )
