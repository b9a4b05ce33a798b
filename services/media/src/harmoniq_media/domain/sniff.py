"""What a file is, from its first bytes, never from its name or what the client declares."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IMAGE_TYPES", "SNIFF_BYTES", "Kind", "contradicts", "served_as", "sniff"]

SNIFF_BYTES = 512
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Types a browser would render or run if served inline on our origin.
_EXECUTABLE = frozenset(
    {"text/html", "image/svg+xml", "application/xml", "text/xml", "text/javascript"}
)
_EXECUTABLE_SUFFIXES = (
    ".htm", ".html", ".xhtml", ".shtml", ".svg", ".svgz", ".xml", ".xsl", ".js", ".mjs",
    ".hta", ".swf",
)  # fmt: skip
# Declared types that name a binary format with a signature: claiming one for bytes that lack
# it is a lie.
_SIGNED_FAMILIES = ("image/", "video/", "audio/")
_SIGNED = frozenset({"application/pdf", "application/zip", "application/gzip"})
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}


@dataclass(frozen=True)
class Kind:
    content_type: str  # what the bytes are
    executable: bool = False  # a browser would render/run it: served as an attachment


_SIGNATURES: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"%PDF-", "application/pdf"),
    (0, b"PK\x03\x04", "application/zip"),
    (0, b"\x1f\x8b", "application/gzip"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (0, b"OggS", "audio/ogg"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"fLaC", "audio/flac"),
    (4, b"ftyp", "video/mp4"),
]
_MARKUP = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<!--",
           b"<meta", b"<style", b"<title", b"<a ", b"<div", b"<img", b"<p>")  # fmt: skip


def sniff(head: bytes) -> Kind:
    """The type of a file from its first :data:`SNIFF_BYTES` bytes."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Kind("image/webp")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Kind("audio/wav")
    for offset, magic, content_type in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return Kind(content_type)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith(_MARKUP):
        return Kind("text/html", executable=True)
    if text.startswith(b"<?xml") or text.startswith(b"<svg"):
        return Kind("image/svg+xml" if b"<svg" in text else "application/xml", executable=True)
    if b"\x00" not in head and _is_utf8_prefix(head):
        return Kind("text/plain")
    return Kind("application/octet-stream")


def _is_utf8_prefix(data: bytes) -> bool:
    """UTF-8, allowing a multi-byte character cut by the sniff window's end."""
    for cut in range(4):
        try:
            data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


def normalise_declared(declared: str | None) -> str | None:
    if not declared:
        return None
    base = declared.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base) or None


def contradicts(declared: str | None, kind: Kind) -> bool:
    """Whether a declared type is a lie about these bytes.

    ``application/octet-stream`` (and no type) claims nothing. A declared format with a
    signature must match the bytes exactly; bytes with a signature must not be declared as
    something else; declared text is fine for text (including markup, which is then served as
    an attachment).
    """
    declared = normalise_declared(declared)
    if declared is None or declared == "application/octet-stream":
        return False
    if declared == kind.content_type:
        return False
    declared_signed = declared.startswith(_SIGNED_FAMILIES) or declared in _SIGNED
    sniffed_signed = kind.content_type.startswith(_SIGNED_FAMILIES) or kind.content_type in _SIGNED
    if kind.executable:
        return declared not in _EXECUTABLE and not declared.startswith("text/")
    if declared_signed or sniffed_signed:
        # mp4/quicktime/m4a share the ftyp box; accept any video/audio declared for it.
        return not (kind.content_type == "video/mp4" and declared.startswith(("video/", "audio/")))
    return False


def served_as(kind: Kind, filename: str) -> tuple[str, str]:
    """(content type, disposition) for serving. Anything a browser could execute (by its
    bytes, or text whose name says HTML/SVG/JS) goes out as a plain-text attachment."""
    textual = kind.content_type == "text/plain"
    if kind.executable or (textual and filename.lower().endswith(_EXECUTABLE_SUFFIXES)):
        return "text/plain; charset=utf-8", "attachment"
    if textual:
        return "text/plain; charset=utf-8", "inline"
    return kind.content_type, "inline"
