"""Filenames as shown and offered for download: no paths, no invisible or reordering
characters, bounded length."""

from __future__ import annotations

import unicodedata

__all__ = ["MAX_FILENAME", "clean_filename"]

MAX_FILENAME = 128
# Bidirectional controls ("invoice\u202egpj.exe" shows as "invoiceexe.jpg") and zero-width
# characters.
_INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\ufeff"
)


def clean_filename(raw: str | None) -> str:
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if ch not in _INVISIBLE and unicodedata.category(ch) not in {"Cc", "Cf"}
    )
    name = name.strip().lstrip(".").strip()
    if not name:
        return "file"
    if len(name) > MAX_FILENAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 16:
            name = stem[: MAX_FILENAME - len(suffix) - 1] + "." + suffix
        else:
            name = name[:MAX_FILENAME]
    return name
