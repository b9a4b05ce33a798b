"""The Slack and GitHub translations take any JSON without failing, and what they make always
fits Harmoniq's rules: Hypothesis throws arbitrary documents (shaped like the real ones) at
them. A translation that raised would be a 500; one that made an over-long or control-laden
string would be stored as such."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from harmoniq_bots.domain.compat.github import EVENTS, from_github
from harmoniq_bots.domain.compat.slack import from_slack
from harmoniq_bots.domain.execute import Execution
from harmoniq_common.webhooks import MAX_CONTENT, MAX_EMBEDS, Embed

_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Text that is mostly what breaks things: blanks, control characters, markup.
awkward = st.text(alphabet=st.sampled_from(" \n\t\r\x07\x1b\x85ab<>|!@#&;:/.h"), max_size=40)
urls = st.sampled_from(["https://x.example/a", "javascript:alert(1)", "http://", "ftp://x"])
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=300) | awkward | urls
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
# Slack's payloads as they nest: attachments of fields, blocks of text objects.
slack_text_object = st.fixed_dictionaries(
    {}, optional={"type": st.sampled_from(["mrkdwn", "plain_text"]) | scalars, "text": scalars}
)
slack_field = st.fixed_dictionaries(
    {}, optional={"title": scalars, "value": scalars, "short": scalars}
)
slack_attachment = st.fixed_dictionaries(
    {},
    optional={
        key: scalars
        for key in ("color", "pretext", "text", "title", "title_link", "fallback", "ts",
                    "author_name", "author_link", "author_icon", "footer", "footer_icon",
                    "image_url", "thumb_url")
    }
    | {"fields": st.lists(slack_field, max_size=4) | scalars},
)  # fmt: skip
slack_block = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["header", "section", "context", "divider", "image", "x"]),
        "text": slack_text_object | scalars,
        "fields": st.lists(slack_text_object, max_size=3) | scalars,
        "elements": st.lists(slack_text_object, max_size=3) | scalars,
        "image_url": scalars,
        "alt_text": scalars,
    },
)
slack_payloads = st.fixed_dictionaries(
    {},
    optional={
        "text": scalars,
        "username": scalars,
        "icon_url": scalars,
        "attachments": st.lists(slack_attachment, max_size=12) | scalars,
        "blocks": st.lists(slack_block, max_size=4) | scalars,
    },
)
github_keys = st.sampled_from(
    ["ref", "compare", "commits", "id", "url", "message", "author", "name", "repository",
     "full_name", "sender", "login", "avatar_url", "html_url", "action", "issue",
     "pull_request", "release", "number", "title", "body", "merged", "deleted", "zen"]
)  # fmt: skip


def shaped(keys: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=25,
    )
    return st.dictionaries(keys, values, max_size=8)


def _fits(execution: Execution) -> None:
    """Everything the translation made passes the execute route's own validation."""
    assert len(execution.embeds) <= MAX_EMBEDS
    if execution.content is not None:
        assert len(execution.content) <= MAX_CONTENT
        assert not _CONTROLS.search(execution.content)
    # Decoding what was built checks every limit and pattern of every embed.
    encoded = msgspec.json.encode(execution.embeds)
    msgspec.json.decode(encoded, type=list[Embed])


@settings(max_examples=300, deadline=None)
@given(slack_payloads | st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_any_slack_payload_translates_into_something_valid(payload: dict[str, Any]) -> None:
    _fits(from_slack(payload))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([*EVENTS, "star"]), shaped(github_keys))
def test_any_github_delivery_translates_into_something_valid(
    event: str, payload: dict[str, Any]
) -> None:
    execution = from_github(event, payload)
    if execution is not None:
        _fits(execution)
