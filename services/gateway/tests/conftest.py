"""Fixtures: auth, guilds and messages in-process, and gateway instances on real sockets."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn

from harmoniq_common.migrate import ServiceSchema
from harmoniq_common.testing.apps import service_settings
from harmoniq_common.testing.infra import Infra, free_port
from harmoniq_common.testing.keys import KeyFiles
from harmoniq_gateway.app import create_app
from harmoniq_gateway.gateway import Gateway
from harmoniq_gateway.settings import GatewaySettings

from auth_testing import auth_client, make_user
from fleet import load_services
from guilds_testing import Client, guilds
from messages_testing import messages, messages_settings_overrides
from voice_testing import voice, voice_overrides

SERVICES = Path(__file__).resolve().parents[2]
GATEWAY = ServiceSchema("gateway", "gateway", SERVICES / "gateway" / "migrations")
Databases = Callable[[ServiceSchema], Awaitable[str]]


def deployed_uvicorn_options() -> dict[str, Any]:
    """The gateway's ``UVICORN_*`` options from deploy/services.toml, as uvicorn.Config takes
    them: tests run uvicorn as deployed (e.g. its frame size limit)."""
    (gateway,) = [s for s in load_services() if s.name == "gateway"]
    options: dict[str, Any] = {}
    for name, value in gateway.env.items():
        if name.startswith("UVICORN_"):
            key = name.removeprefix("UVICORN_").lower()
            options[key] = {"true": True, "false": False}.get(value, value)
            if value.isdecimal():
                options[key] = int(value)
    return options


@dataclass
class GatewayInstance:
    url: str
    server: uvicorn.Server
    task: asyncio.Task[None]

    @property
    def gateway(self) -> Gateway:
        app: Any = self.server.config.loaded_app
        while not hasattr(app, "state"):  # uvicorn's middleware wraps the application
            app = app.app
        gateway: Gateway = app.state.gateway
        return gateway

    async def stop(self) -> None:
        """What SIGTERM does: RECONNECT to every client, then uvicorn's own shutdown."""
        if self.task.done():
            return
        await self.gateway.drain()
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 15)
        except TimeoutError:
            self.server.force_exit = True
            await asyncio.wait_for(self.task, 15)  # fails the test loudly if it hangs


@pytest.fixture
def gateway_overrides() -> dict[str, Any]:
    return {}


@pytest_asyncio.fixture(loop_scope="session")
async def start_gateway(
    harmoniq_infra: Infra,
    harmoniq_keys: KeyFiles,
    namespace: str,
    service_database: Databases,
    gateway_overrides: dict[str, Any],
    auth_client: Client,
    guilds: Client,
) -> AsyncIterator[Callable[[], Awaitable[GatewayInstance]]]:
    """Start a gateway instance on a real port (as many as a test wants)."""
    database = await service_database(GATEWAY)
    running: list[GatewayInstance] = []
    numbers = itertools.count(1)

    async def start() -> GatewayInstance:
        port = free_port()
        settings = GatewaySettings(
            database_url=database,
            instance_id=f"gw-{next(numbers)}",
            gc_gen0_threshold=0,
            **{**service_settings(harmoniq_infra, harmoniq_keys, namespace), **gateway_overrides},
        )
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            **deployed_uvicorn_options(),
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)  # uvicorn offers no event for "listening"
        instance = GatewayInstance(f"ws://127.0.0.1:{port}/gateway", server, task)
        running.append(instance)
        return instance

    yield start
    for instance in running:
        await instance.stop()
