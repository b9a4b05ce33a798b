"""The flush window: after a flush to many sockets the next waits for the window; a flush to
few sockets holds nothing back, and with the window off (the default) nothing waits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from harmoniq_common.settings import SettingsError, load_settings
from harmoniq_gateway import sinks
from harmoniq_gateway.settings import GatewaySettings

WINDOW = 0.05
WIDE = 3


@pytest.fixture
def window() -> Iterator[None]:
    sinks.set_flush_window(WINDOW, WIDE)
    try:
        yield
    finally:
        defaults = GatewaySettings()
        sinks.set_flush_window(defaults.flush_window_ms / 1000, defaults.flush_window_sockets)


async def _flush_to(n: int) -> tuple[float, list[float]]:
    """Frames for ``n`` sockets in one turn: when they were queued, and when each was written
    (the flusher only calls a sink's ``flush``)."""
    loop = asyncio.get_running_loop()
    written: list[float] = []
    all_written = loop.create_future()

    class Sink:
        def flush(self) -> None:
            written.append(loop.time())
            if len(written) == n:
                all_written.set_result(None)

    queued = loop.time()
    for _ in range(n):
        sinks._flusher.add(Sink())
    await asyncio.wait_for(all_written, 5)
    return queued, written


async def test_after_a_wide_flush_the_next_waits_for_the_window(window: None) -> None:
    _, first = await _flush_to(WIDE)
    queued, second = await _flush_to(1)
    assert second[0] - first[-1] >= WINDOW * 0.99  # the loop's clock may round a hair
    assert second[0] - queued > WINDOW / 2


async def test_a_narrow_flush_holds_nothing_back(window: None) -> None:
    _, first = await _flush_to(WIDE - 1)
    _, second = await _flush_to(WIDE - 1)
    assert second[0] - first[-1] < WINDOW / 2


async def test_off_by_default_nothing_waits() -> None:
    defaults = GatewaySettings()
    assert defaults.flush_window_ms == 0
    sinks.set_flush_window(defaults.flush_window_ms / 1000, defaults.flush_window_sockets)
    _, first = await _flush_to(1000)
    _, second = await _flush_to(1)
    assert second[0] - first[-1] < WINDOW / 2


@pytest.mark.parametrize(
    "env",
    [
        {"HARMONIQ_FLUSH_WINDOW_MS": "-1"},
        {"HARMONIQ_FLUSH_WINDOW_MS": "5000"},
        {"HARMONIQ_FLUSH_WINDOW_SOCKETS": "0"},
    ],
)
def test_a_window_out_of_range_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="flush_window"):
        load_settings(GatewaySettings, env)
    chosen = load_settings(GatewaySettings, {"HARMONIQ_FLUSH_WINDOW_MS": "40"})
    assert chosen.flush_window_ms == 40
