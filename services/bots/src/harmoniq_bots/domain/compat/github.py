"""GitHub's webhook deliveries as readable messages
(``POST /api/v1/webhooks/{id}/{token}/github``, GitHub's "Content type: application/json").

``ping``, ``push``, ``issues``, ``pull_request`` and ``release`` become one embed each (what
happened, where, by whom, with links); other events are acknowledged and not posted. When the
webhook has a GitHub secret, a delivery must carry ``X-Hub-Signature-256``: ``sha256=`` and the
hex HMAC-SHA256 of the raw body under that secret, compared in constant time
(https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

from harmoniq_common.webhooks import Embed, EmbedAuthor

from ..execute import Execution
from .text import dicts, line, safe_url, text

__all__ = ["EVENTS", "from_github", "signature_matches"]

_GREEN, _RED, _PURPLE, _GREY, _BLUE = 0x2EA043, 0xCF222E, 0x8250DF, 0x6E7781, 0x0969DA
MAX_COMMITS = 5


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def _get(payload: Any, *path: str) -> Any:
    for key in path:
        payload = payload.get(key) if isinstance(payload, dict) else None
    return payload


def _s(payload: Any, *path: str) -> str:
    value = _get(payload, *path)
    return str(value) if isinstance(value, str | int) else ""


def _repo(payload: dict[str, Any]) -> str:
    return (
        _s(payload, "repository", "full_name") or _s(payload, "organization", "login") or "GitHub"
    )


def _author(payload: dict[str, Any]) -> EmbedAuthor | None:
    login = line(_s(payload, "sender", "login"), 256)
    if not login:
        return None
    return EmbedAuthor(
        name=login,
        url=safe_url(_get(payload, "sender", "html_url")),
        icon_url=safe_url(_get(payload, "sender", "avatar_url")),
    )


def _embed(
    payload: dict[str, Any], title: str, url: Any, description: str = "", color: int = _GREY
) -> Embed:
    return Embed(
        title=line(title, 256) or None,
        url=safe_url(url),
        description=text(description, 4096) or None,
        color=color,
        author=_author(payload),
    )


def _ping(payload: dict[str, Any]) -> Embed:
    zen = _s(payload, "zen")
    return _embed(payload, f"[{_repo(payload)}] webhook ready", _get(payload, "hook", "url"), zen)


def _push(payload: dict[str, Any]) -> Embed:
    ref = _s(payload, "ref")
    name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    repo = _repo(payload)
    if _get(payload, "deleted") is True:
        return _embed(payload, f"[{repo}] {name} deleted", _get(payload, "repository", "html_url"))
    commits = dicts(_get(payload, "commits"))
    lines = [
        f"[`{_s(c, 'id')[:7]}`]({safe_url(c.get('url')) or ''}) "
        f"{line(_s(c, 'message').split(chr(10))[0], 100)} — {line(_s(c, 'author', 'name'), 60)}"
        for c in commits[:MAX_COMMITS]
    ]
    if len(commits) > MAX_COMMITS:
        lines.append(f"… and {len(commits) - MAX_COMMITS} more")
    count = len(commits)
    title = f"[{repo}:{name}] {count} new commit{'s' if count != 1 else ''}"
    if ref.startswith("refs/tags/") and not commits:
        title = f"[{repo}] tag {name} pushed"
    return _embed(payload, title, _get(payload, "compare"), "\n".join(lines), _BLUE)


def _thread(kind: str, key: str) -> Callable[[dict[str, Any]], Embed]:
    """``issues`` and ``pull_request``: opened, closed, merged, reopened…"""

    def render(payload: dict[str, Any]) -> Embed:
        item = _get(payload, key)
        action = _s(payload, "action") or "updated"
        if action == "closed" and _get(item, "merged") is True:
            action = "merged"
        color = {"opened": _GREEN, "reopened": _GREEN, "closed": _RED, "merged": _PURPLE}
        body = _s(item, "body") if action == "opened" else ""
        return _embed(
            payload,
            f"[{_repo(payload)}] {kind} {action}: #{_s(item, 'number')} {_s(item, 'title')}",
            _get(item, "html_url"),
            text(body, 500),
            color.get(action, _GREY),
        )

    return render


def _release(payload: dict[str, Any]) -> Embed:
    release = _get(payload, "release")
    action = _s(payload, "action") or "updated"
    name = _s(release, "name") or _s(release, "tag_name")
    return _embed(
        payload,
        f"[{_repo(payload)}] release {action}: {name}",
        _get(release, "html_url"),
        text(_s(release, "body"), 500),
        _GREEN if action in ("published", "released", "created") else _GREY,
    )


EVENTS: dict[str, Callable[[dict[str, Any]], Embed]] = {
    "ping": _ping,
    "push": _push,
    "issues": _thread("Issue", "issue"),
    "pull_request": _thread("Pull request", "pull_request"),
    "release": _release,
}


def from_github(event: str, payload: dict[str, Any]) -> Execution | None:
    """The message for this delivery; ``None`` for an event that is not shown."""
    render = EVENTS.get(event)
    if render is None:
        return None
    return Execution(
        content=None,
        username="GitHub",
        avatar_url=None,
        embeds=[render(payload)],
        allowed_mentions=None,
    )
