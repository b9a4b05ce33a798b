"""Wait for a condition another process brings about (a consumer applying an event).

Not a sleep standing in for synchronisation: the condition is checked, and the wait ends the
moment it holds, or fails loudly at the deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["eventually"]

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    timeout: float = 10.0,
    what: str = "condition",
) -> T:
    """Call ``probe`` until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.2)
