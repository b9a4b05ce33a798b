"""Slack's incoming-webhook payload as a Harmoniq execution, so tools written for Slack post
here unchanged (``POST /api/v1/webhooks/{id}/{token}/slack``).

Read: ``text`` (Slack's markup: ``<url|label>`` links, ``<@U…>`` / ``<#C…|name>`` references,
``<!here>`` / ``<!channel>`` / ``<!everyone>``, ``&amp;`` ``&lt;`` ``&gt;``), ``username``,
``icon_url``, ``attachments`` (one embed each: colour, pretext, author, title and link, text,
fields, image, thumbnail, footer, ``ts``) and simple ``blocks`` (``header``, ``section`` with
text and fields, ``context``, ``divider``, ``image``), as Markdown. Slack's broadcasts become
plain words: the execution keeps the default ``allowed_mentions``, so a Slack payload never
pings ``@everyone``. Text past Harmoniq's limits is cut, with an ellipsis, rather than refused
(Slack's own limits are larger and these tools do not expect a refusal); control characters
are dropped.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from harmoniq_common.webhooks import (
    MAX_CONTENT,
    MAX_EMBED_FIELDS,
    MAX_EMBEDS,
    Embed,
    EmbedAuthor,
    EmbedField,
    EmbedFooter,
    EmbedMedia,
)

from ..execute import Execution
from .text import clip, dicts, line, safe_url, text

__all__ = ["from_slack", "slack_markup"]

_REFERENCE = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_BROADCASTS = {"!here": "@\u200bhere", "!channel": "@\u200bchannel", "!everyone": "@\u200beveryone"}
_COLORS = {"good": 0x2EB67D, "warning": 0xECB22E, "danger": 0xE01E5A}


def _reference(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("http://", "https://", "mailto:")):
        return f"[{label}]({target})" if label else target
    if target.startswith("@"):  # a Slack user id means nothing here: its label or the id
        return f"@{label or target[1:]}"
    if target.startswith("#"):
        return f"#{label or target[1:]}"
    if target.startswith("!"):
        # Shown as words with a zero-width joiner, so not even a permissive reader pings.
        return _BROADCASTS.get(target.split("^")[0], label or target[1:])
    return label or target


def slack_markup(value: str) -> str:
    """Slack's mrkdwn as Markdown (links, references, entities; *bold* stays emphasis)."""
    return html.unescape(_REFERENCE.sub(_reference, value))


def _color(value: Any) -> int | None:
    if not isinstance(value, str):
        return None
    if value in _COLORS:
        return _COLORS[value]
    if re.fullmatch(r"#?[0-9a-fA-F]{6}", value):
        return int(value.lstrip("#"), 16)
    return None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _attachment(item: dict[str, Any]) -> Embed:
    fields = [
        EmbedField(
            name=line(slack_markup(str(f.get("title") or "")), 256) or "\u200b",
            value=text(slack_markup(str(f.get("value") or "")), 1024).strip() or "\u200b",
            inline=bool(f.get("short", False)),
        )
        for f in dicts(item.get("fields"))[:MAX_EMBED_FIELDS]
    ]
    description = "\n\n".join(
        slack_markup(str(part)) for part in (item.get("pretext"), item.get("text")) if part
    ) or (slack_markup(str(item["fallback"])) if item.get("fallback") and not fields else None)
    author = line(str(item.get("author_name") or ""), 256)
    footer = text(str(item.get("footer") or ""), 2048).strip()
    return Embed(
        title=line(slack_markup(str(item.get("title") or "")), 256) or None,
        url=safe_url(item.get("title_link")),
        description=text(description, 4096) if description else None,
        color=_color(item.get("color")),
        timestamp=_time(item.get("ts")),
        fields=fields,
        author=EmbedAuthor(
            name=author,
            url=safe_url(item.get("author_link")),
            icon_url=safe_url(item.get("author_icon")),
        )
        if author
        else None,
        footer=EmbedFooter(text=footer, icon_url=safe_url(item.get("footer_icon")))
        if footer
        else None,
        image=_media(item.get("image_url")),
        thumbnail=_media(item.get("thumb_url")),
    )


def _media(value: Any) -> EmbedMedia | None:
    url = safe_url(value)
    return EmbedMedia(url=url) if url else None


def _block_text(value: Any) -> str:
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        raw = value["text"]
        return slack_markup(raw) if value.get("type") == "mrkdwn" else raw
    return ""


def _block(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f"**{_block_text(block.get('text'))}**"
    if kind == "section":
        parts = [_block_text(block.get("text"))]
        parts += [_block_text(f) for f in dicts(block.get("fields"))]
        return "\n".join(p for p in parts if p)
    if kind == "context":
        return " ".join(t for e in dicts(block.get("elements")) if (t := _block_text(e)))
    if kind == "divider":
        return "———"
    if kind == "image":
        url = safe_url(block.get("image_url"))
        return f"[{line(str(block.get('alt_text') or 'image'), 200)}]({url})" if url else ""
    return ""  # input, actions…: nothing to show in a message


def from_slack(payload: dict[str, Any]) -> Execution:
    parts = [slack_markup(str(payload["text"]))] if payload.get("text") else []
    parts += [shown for b in dicts(payload.get("blocks")) if (shown := _block(b))]
    attachments = dicts(payload.get("attachments"))
    username = payload.get("username")
    content = "\n".join(parts)
    return Execution(
        content=clip(text(content, MAX_CONTENT), MAX_CONTENT) if content else None,
        username=line(str(username), 80) or None if username else None,
        avatar_url=safe_url(payload.get("icon_url")),
        embeds=[_attachment(a) for a in attachments[:MAX_EMBEDS]],
        allowed_mentions=None,
    )
