"""The fleet runner's choice of ports for service instances (tests and `make dev` with
``fixed_ports=False``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harmoniq_common.testing.infra import Infra

import fleet as fleet_module
from fleet import Fleet, Process


def test_an_instance_is_never_given_nginx_s_port_or_a_sibling_s(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """nginx binds its public port only once the services are ready, so the kernel may offer
    that port (or, in a race, one already handed out) to a service meanwhile; it happened in
    a test run: nginx failed to bind and the "fleet" answered with one service's 404s."""
    public, sibling, free = 40001, 40002, 40003
    offers = iter([public, sibling, public, free])
    monkeypatch.setattr(fleet_module, "free_port", lambda: next(offers))
    running = Fleet(
        Infra("postgresql://unused", "redis://unused", "nats://unused"),
        tmp_path,
        public_port=public,
        fixed_ports=False,
    )
    running.processes["auth"] = [Process("auth-0", sibling, None, tmp_path)]  # type: ignore[arg-type]  # never started
    assert running._unclaimed_port() == free
