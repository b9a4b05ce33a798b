"""The voice service application: ``uvicorn --factory harmoniq_voice.app:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import structlog
from litestar import Litestar

from harmoniq_common.access import AccessCache
from harmoniq_common.app import create_service_app
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .domain.doctor import Doctor
from .domain.signals import Signals
from .domain.states import Voice
from .events.guilds import guild_events_consumer
from .http.deps import Domain
from .http.voice import ChannelVoiceStatesController, VoiceController
from .rpc.voice import serve_voice
from .settings import VoiceSettings

__all__ = ["create_app"]

log = structlog.get_logger(__name__)


async def _sweep(voice: Voice, interval: float) -> None:
    """Leases that ran out (their gateway died) leave voice; every instance sweeps, the rows
    are shared out by SKIP LOCKED."""
    while True:
        try:
            while await voice.sweep():
                pass
        except Exception:
            log.warning("voice.sweep_failed", exc_info=True)
        await asyncio.sleep(interval)


def _domain(
    settings: VoiceSettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        access = AccessCache(platform.redis, platform.nats, platform.subjects)
        voice = Voice(platform, settings, access)
        app.state.voice_domain = Domain(settings=settings, voice=voice, doctor=Doctor(settings))
        subscriptions = await serve_voice(platform, voice, Signals(platform))
        consumer = guild_events_consumer(platform, voice)
        await consumer.start()
        sweeper = asyncio.create_task(_sweep(voice, settings.sweep_interval_seconds))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            for subscription in subscriptions:
                await subscription.unsubscribe()
            await consumer.stop()

    return extend


def create_app(settings: VoiceSettings | None = None) -> Litestar:
    settings = settings or load_settings(VoiceSettings)
    return create_service_app(
        settings,
        route_handlers=[VoiceController, ChannelVoiceStatesController],
        title="Harmoniq voice",
        extend=_domain(settings),
    )
