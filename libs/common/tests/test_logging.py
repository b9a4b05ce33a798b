"""Logs are JSON lines with the service and correlation id, and never quote a credential."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog

from harmoniq_common.logging import (
    CorrelationIdMiddleware,
    bind_correlation_id,
    configure_logging,
)

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def test_a_logged_traceback_has_its_credentials_cut_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("probe")
    try:
        bind_correlation_id("req-logged-1")
        try:
            raise RuntimeError(f"upstream said password=hunter2 for Bearer {TOKEN}")
        except RuntimeError:
            structlog.get_logger("probe").warning("probe.failed", attempt=2, exc_info=True)
        [line] = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "probe" in x]
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
    assert line["event"] == "probe.failed" and line["attempt"] == 2
    assert line["service"] == "probe" and line["correlation_id"] == "req-logged-1"
    assert "RuntimeError" in line["exception"] and "[Filtered]" in line["exception"]
    assert TOKEN not in line["exception"] and "hunter2" not in line["exception"]


async def test_a_requests_lines_carry_its_id_and_later_lines_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        structlog.get_logger("probe").info("probe.inside")

    configure_logging("probe")
    try:
        scope = {"type": "http", "headers": [(b"x-request-id", b"req-inside-7")]}
        await CorrelationIdMiddleware(app)(scope, None, None)  # type: ignore[arg-type]
        structlog.get_logger("probe").info("probe.after")
        lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if "probe." in x]
    finally:
        logging.getLogger().handlers.clear()
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
    inside, after = lines
    assert inside["event"] == "probe.inside" and inside["correlation_id"] == "req-inside-7"
    assert after["event"] == "probe.after" and "correlation_id" not in after
