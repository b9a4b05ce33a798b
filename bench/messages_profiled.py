"""One messages instance with instruments, for the benchmark's "where does the time go" part.

Run by ``messages_bench.py`` as a child process with a fleet instance's environment, plus:

``BENCH_PROFILE_MODE``
    ``stages``: wall-clock timers around each step of a send (the Redis script: revocation,
    rate limit, access check; the author as last seen; encoding the event; the one statement;
    the publish and its ack; the batched deletes) and around the whole request inside the
    service; no profiler, so the figures are undistorted.
    ``cprofile``: the whole process under ``cProfile`` (its overhead inflates Python code, so
    only the *shares* are read from it).
``BENCH_PROFILE_OUT``
    where the JSON timings (``stages``) or the pstats file (``cprofile``) go at exit.

The wrappers replace module attributes in this process only; the service code is not changed.
Stopped with SIGTERM like any instance: uvicorn shuts down gracefully, then the results are
written.
"""

from __future__ import annotations

import cProfile
import json
import os
import signal
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

from harmoniq_common import access, outbox
from harmoniq_messages import app as messages_app
from harmoniq_messages.domain import authors
from harmoniq_messages.domain import messages as domain
from harmoniq_messages.store import messages as store

# Stage name -> [(perf_counter at the end, seconds)]; perf_counter is CLOCK_MONOTONIC, so the
# benchmark can cut these into its runs by its own clock readings.
STAGES: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)


def _record(name: str, start: float) -> None:
    end = time.perf_counter()
    STAGES[name].append((end, end - start))


def _timed(name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            _record(name, start)

    return wrapper


def _timed_sync(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _record(name, start)

    return wrapper


def _instrument() -> None:
    access.AccessCache.channel_limited = _timed(  # type: ignore[method-assign]
        "revocation + rate limit + access check (one Redis script; guilds RPC on a miss)",
        access.AccessCache.channel_limited,
    )
    authors.KnownAuthors.summary = _timed(  # type: ignore[method-assign]
        "author as last seen (SELECT users on a first send)", authors.KnownAuthors.summary
    )
    domain.prepare = _timed_sync("encode the event (outbox row)", domain.prepare)
    store.send = _timed("the one statement: message + read state + outbox rows", store.send)
    outbox.OutboxRelay.publish_committed = _timed(  # type: ignore[method-assign]
        "publish at once + JetStream ack", outbox.OutboxRelay.publish_committed
    )
    outbox.OutboxRelay.flush_deletes = _timed(  # type: ignore[method-assign]
        "DELETE acknowledged rows (background, batched)", outbox.OutboxRelay.flush_deletes
    )
    outbox.OutboxRelay.relay_once = _timed(  # type: ignore[method-assign]
        "relay batch to JetStream (background)", outbox.OutboxRelay.relay_once
    )


def _timed_requests(app: Any) -> Any:
    """The whole send inside the service: ASGI call to the last body byte."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await app(scope, receive, send)
        finally:
            _record("request in the service (ASGI)", start)

    return asgi


def main() -> None:
    mode = os.environ["BENCH_PROFILE_MODE"]
    out = os.environ["BENCH_PROFILE_OUT"]
    if mode == "stages":
        _instrument()
    app = messages_app.create_app()
    config = uvicorn.Config(
        _timed_requests(app) if mode == "stages" else app,
        host="127.0.0.1",
        port=int(os.environ["HARMONIQ_PORT"]),
        access_log=False,
        proxy_headers=False,
        timeout_graceful_shutdown=20,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises the SIGTERM it caught once it has shut down; with the default handler
    # that would end the process before the results below are written.
    signal.signal(signal.SIGTERM, lambda *_: None)
    if mode == "cprofile":
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            server.run()
        finally:
            profiler.disable()
            profiler.dump_stats(out)
    else:
        server.run()
        with open(out, "w") as handle:
            json.dump(STAGES, handle)


if __name__ == "__main__":
    main()
