"""Logs are JSON lines with the service and correlation id, and never quote a credential."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from harmoniq_common.logging import bind_correlation_id, configure_logging

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
