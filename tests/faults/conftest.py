"""A fleet on servers of its own, so that the fault tests may kill and restart them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from harmoniq_common.testing.infra import InfraStack, free_port
from harmoniq_common.testing.s3 import S3Server

from fleet import Fleet


@pytest.fixture(scope="package")
def fault_infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfraStack]:
    """Always embedded (never the servers given by HARMONIQ_*_URL: those are not ours to kill)."""
    stack = InfraStack(tmp_path_factory.mktemp("fault-infra"), env={})
    with stack:
        yield stack


@pytest.fixture(scope="package")
def fault_fleet(
    fault_infra: InfraStack, harmoniq_s3: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fleet]:
    assert fault_infra.infra is not None
    work: Path = tmp_path_factory.mktemp("fault-fleet")
    running = Fleet(
        fault_infra.infra,
        work,
        public_port=free_port(),
        database=f"hq_faults_{secrets.token_hex(4)}",
        namespace=f"x{secrets.token_hex(5)}",
        fixed_ports=False,
        s3=harmoniq_s3,
        # Steady traffic from one user and address: the limits are tested elsewhere.
        extra_env={
            "HARMONIQ_AUTH_RATE_LIMIT": "1000",
            "HARMONIQ_SEND_RATE_LIMIT": "100000",
            "HARMONIQ_LOG_LEVEL": "INFO",
        },
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()
