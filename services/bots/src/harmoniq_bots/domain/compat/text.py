"""Making foreign text fit Harmoniq's rules: cut to a limit, without control characters."""

from __future__ import annotations

import re
from typing import Any

from harmoniq_common.webhooks import MAX_URL

__all__ = ["clip", "dicts", "line", "safe_url", "text"]

_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]+")
_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f-\x9f]+")


def clip(value: str, limit: int) -> str:
    """At most ``limit`` characters, an ellipsis marking a cut."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def text(value: str, limit: int) -> str:
    """Multi-line text: control characters but tab, LF and CR dropped, cut to ``limit``."""
    return clip(_TEXT_CONTROLS.sub("", value), limit)


def line(value: str, limit: int) -> str:
    """One line: line breaks become spaces, other control characters go, cut to ``limit``."""
    return clip(_TEXT_CONTROLS.sub("", _LINE_BREAKS.sub(" ", value)).strip(), limit)


def safe_url(value: Any) -> str | None:
    """An http(s) URL within the limit, or ``None`` (javascript:, data:, garbage…)."""
    if isinstance(value, str) and len(value) <= MAX_URL and _URL.fullmatch(value):
        return value
    return None


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of what should be a list of objects (anything else: none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
