"""The media service application: ``uvicorn --factory harmoniq_media.app:create_app``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from harmoniq_common.access import AccessCache
from harmoniq_common.app import create_service_app
from harmoniq_common.platform import Platform
from harmoniq_common.settings import load_settings

from .domain.cleanup import Cleanup, run_cleanup
from .domain.direct_uploads import DirectUploads
from .domain.links import Links
from .domain.serving import Serving
from .domain.uploads import Uploads
from .events.deletions import deletion_events_consumer
from .http.deps import Domain
from .http.media import MediaController
from .metrics import sample_storage_forever
from .rpc.links import serve_links
from .settings import MediaSettings
from .storage import open_storage

__all__ = ["create_app"]


def _domain(
    settings: MediaSettings,
) -> Callable[[Litestar, Platform], AbstractAsyncContextManager[None]]:
    @contextlib.asynccontextmanager
    async def extend(app: Litestar, platform: Platform) -> AsyncIterator[None]:
        async with open_storage(settings) as storage:
            access = AccessCache(platform.redis, platform.nats, platform.subjects)
            uploads = Uploads(platform, settings, storage)
            app.state.media_domain = Domain(
                uploads=uploads,
                direct_uploads=DirectUploads(platform, settings, storage, uploads),
                serving=Serving(platform, settings, storage, access),
            )
            app.state.storage = storage
            links = Links(platform.pool, storage)
            subscriptions = await serve_links(platform, links)
            consumer = deletion_events_consumer(platform, links)
            await consumer.start()
            cleanup = Cleanup(platform.pool, settings, storage, platform.nats, platform.subjects)
            jobs = [
                asyncio.create_task(run_cleanup(cleanup, settings.cleanup_interval_seconds)),
                asyncio.create_task(
                    sample_storage_forever(platform.pool, settings.metrics_sample_seconds)
                ),
            ]
            try:
                yield
            finally:
                for job in jobs:
                    job.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await job
                for subscription in subscriptions:
                    await subscription.unsubscribe()
                await consumer.stop()

    return extend


def create_app(settings: MediaSettings | None = None) -> Litestar:
    settings = settings or load_settings(MediaSettings)
    return create_service_app(
        settings,
        route_handlers=[MediaController],
        title="Harmoniq media",
        extend=_domain(settings),
    )
