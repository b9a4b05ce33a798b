"""The fleet as real processes behind the real nginx config, on a database of its own."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harmoniq_common.testing.infra import Infra, free_port
from harmoniq_common.testing.s3 import S3Server

from fleet import Fleet
from turn_server import TurnServer, TurnStack, turnserver_binary


@pytest.fixture(scope="session")
def harmoniq_turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer | None]:
    """Debian's coturn on loopback for the fleet's voice service (None when not installed:
    voice then refuses ICE servers with 503, and the voice fleet test fails saying so)."""
    if turnserver_binary() is None:
        yield None
        return
    with TurnStack(tmp_path_factory.mktemp("turn")) as turn:
        yield turn


@pytest.fixture(scope="module")
def fleet_instances() -> dict[str, int]:
    """Instances per service (default one each); a test module may override this fixture."""
    return {}


@pytest.fixture(scope="module")
def fleet_env() -> dict[str, str]:
    """Extra environment of every process (HARMONIQ_*); a test module may override this."""
    return {}


@pytest.fixture(scope="module")
def fleet(
    harmoniq_infra: Infra,
    harmoniq_s3: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
    fleet_instances: dict[str, int],
    harmoniq_turn: TurnServer | None,
    fleet_env: dict[str, str],
) -> Iterator[Fleet]:
    work: Path = tmp_path_factory.mktemp("fleet")
    running = Fleet(
        harmoniq_infra,
        work,
        public_port=free_port(),
        database=f"hq_fleet_{secrets.token_hex(4)}",
        namespace=f"f{secrets.token_hex(5)}",
        fixed_ports=False,
        instances=fleet_instances,
        s3=harmoniq_s3,
        turn=harmoniq_turn,
        # Every request arrives from 127.0.0.1 through nginx; the 5/min limit itself is tested
        # in the service tests and in test_rate_limit_through_nginx.
        extra_env={"HARMONIQ_AUTH_RATE_LIMIT": "50", "HARMONIQ_LOG_LEVEL": "INFO", **fleet_env},
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http(fleet: Fleet) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fleet.url, timeout=10) as client:
        yield client
