"""Slack- and GitHub-compatible executions: their payloads become readable messages, their
hostile markup pings nobody, and GitHub's signature is checked when a secret is set."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any

from harmoniq_common.testing.users import TestUser

from bots_testing import create_webhook
from guilds_testing import Client, create_server, text_channel
from messages_testing import history

MakeUser = Callable[..., Awaitable[TestUser]]


async def _setup(
    client: Client, guilds: Client, make_user: MakeUser, **body: Any
) -> tuple[TestUser, str, dict[str, Any]]:
    owner = await make_user()
    server = await create_server(guilds, owner)
    channel = str((await text_channel(guilds, server, owner))["id"])
    hook = await create_webhook(client, owner, str(server["id"]), channel, **body)
    return owner, channel, hook


async def _last(messages: Client, reader: TestUser, channel: str) -> dict[str, Any]:
    page = await history(messages, reader, channel)
    assert page, "nothing was posted"
    return page[0]


async def test_a_slack_payload_becomes_a_message_with_embeds(
    client: Client, guilds: Client, messages: Client, make_user: MakeUser
) -> None:
    owner, channel, hook = await _setup(client, guilds, make_user)
    answer = await client.post(
        f"{hook['url']}/slack",
        json={
            "text": "Deploy <https://ci.example/1|#1> by <@U123|bob> &lt;b&gt; <!channel> <!here>",
            "username": "deploy-bot",
            "icon_url": "https://ci.example/bot.png",
            "icon_emoji": ":rocket:",  # Slack's own fields are ignored, not refused
            "channel": "#ops",
            "attachments": [
                {
                    "color": "good",
                    "pretext": "Production",
                    "title": "Release 2.0",
                    "title_link": "javascript:alert(1)",
                    "text": "All *green*",
                    "fields": [{"title": "Env", "value": "prod", "short": True}],
                    "footer": "ci",
                    "ts": 1764669600,
                    "image_url": "https://ci.example/graph.png",
                }
            ],
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": "Summary"}},
                {"type": "divider"},
                {"type": "section", "text": {"type": "mrkdwn", "text": "see <https://x.example>"}},
                {"type": "actions", "elements": []},
            ],
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.text == "ok"
    message = await _last(messages, owner, channel)
    assert message["webhook_id"] == hook["id"]
    assert message["author"]["username"] == "deploy-bot"
    assert message["author"]["avatar_url"] == "https://ci.example/bot.png"
    assert message["content"].split("\n") == [
        "Deploy [#1](https://ci.example/1) by @bob <b> @\u200bchannel @\u200bhere",
        "**Summary**",
        "———",
        "see https://x.example",
    ]
    assert message["mention_everyone"] is False
    [embed] = message["embeds"]
    assert embed["title"] == "Release 2.0"
    assert "url" not in embed  # the javascript: link was dropped
    assert embed["color"] == 0x2EB67D
    assert embed["description"] == "Production\n\nAll *green*"
    assert embed["fields"] == [{"name": "Env", "value": "prod", "inline": True}]
    assert embed["footer"] == {"text": "ci"}
    assert embed["timestamp"] == "2025-12-02T10:00:00Z"
    assert embed["image"] == {"url": "https://ci.example/graph.png"}


async def test_hostile_slack_text_is_cleaned_and_cut(
    client: Client, guilds: Client, messages: Client, make_user: MakeUser
) -> None:
    owner, channel, hook = await _setup(client, guilds, make_user)
    answer = await client.post(
        f"{hook['url']}/slack",
        json={"text": "a\x07b\x1b[31m" + "x" * 3000, "username": "\n\n", "attachments": [{}]},
    )
    assert answer.status_code == 200, answer.text
    message = await _last(messages, owner, channel)
    assert message["content"].startswith("ab[31mxx")
    assert len(message["content"]) == 2000
    assert message["content"].endswith("…")
    assert message["author"]["username"] == "Hooky"  # a blank name falls back to the webhook's
    nothing = await client.post(f"{hook['url']}/slack", json={"text": ""})
    assert nothing.status_code == 400
    assert nothing.json()["code"] == "empty_message"
    wrong = await client.post(f"/api/v1/webhooks/{hook['id']}/{'x' * 43}/slack", json={"text": "a"})
    assert wrong.status_code == 404


def _push(commits: int) -> dict[str, Any]:
    return {
        "ref": "refs/heads/main",
        "compare": "https://github.com/acme/app/compare/a...b",
        "repository": {"full_name": "acme/app", "html_url": "https://github.com/acme/app"},
        "sender": {"login": "octo", "avatar_url": "https://avatars.example/o.png"},
        "commits": [
            {
                "id": f"{i:07d}abcdef",
                "url": f"https://github.com/acme/app/commit/{i}",
                "message": f"change {i}\n\nlong body",
                "author": {"name": "Octo Cat"},
            }
            for i in range(commits)
        ],
    }


async def _deliver(
    client: Client, hook: dict[str, Any], event: str, payload: dict[str, Any], secret: str = ""
) -> Any:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if secret:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return await client.post(f"{hook['url']}/github", content=body, headers=headers)


async def test_github_deliveries_become_readable_messages(
    client: Client, guilds: Client, messages: Client, make_user: MakeUser
) -> None:
    owner, channel, hook = await _setup(client, guilds, make_user)
    shown: list[dict[str, Any]] = []
    deliveries: list[tuple[str, dict[str, Any]]] = [
        ("ping", {"zen": "Keep it simple.", "repository": {"full_name": "acme/app"}}),
        ("push", _push(7)),
        (
            "issues",
            {
                "action": "opened",
                "issue": {"number": 5, "title": "Crash", "body": "@everyone it broke",
                          "html_url": "https://github.com/acme/app/issues/5"},
                "repository": {"full_name": "acme/app"},
            },
        ),
        (
            "pull_request",
            {
                "action": "closed",
                "pull_request": {"number": 6, "title": "Fix", "merged": True,
                                 "html_url": "https://github.com/acme/app/pull/6"},
                "repository": {"full_name": "acme/app"},
            },
        ),
    ]  # fmt: skip
    for event, payload in deliveries:
        answer = await _deliver(client, hook, event, payload)
        assert answer.status_code == 204, answer.text
        shown.append(await _last(messages, owner, channel))
    # The rate limit (5 per 2 s) is shared with every other kind of execution.
    release = await _deliver(
        client,
        hook,
        "release",
        {"action": "published", "release": {"tag_name": "v2.0", "body": "notes"},
         "repository": {"full_name": "acme/app"}},
    )  # fmt: skip
    assert release.status_code == 204, release.text
    shown.append(await _last(messages, owner, channel))
    titles = [m["embeds"][0]["title"] for m in shown]
    assert titles == [
        "[acme/app] webhook ready",
        "[acme/app:main] 7 new commits",
        "[acme/app] Issue opened: #5 Crash",
        "[acme/app] Pull request merged: #6 Fix",
        "[acme/app] release published: v2.0",
    ]
    push = shown[1]["embeds"][0]
    assert push["description"].split("\n")[0] == (
        "[`0000000`](https://github.com/acme/app/commit/0) change 0 — Octo Cat"
    )
    assert push["description"].split("\n")[-1] == "… and 2 more"
    assert push["author"]["name"] == "octo"
    assert shown[2]["mention_everyone"] is False
    assert shown[3]["embeds"][0]["color"] == 0x8250DF
    assert all(m["author"]["username"] == "GitHub" for m in shown)


async def test_other_github_events_are_acknowledged_without_a_message(
    client: Client, guilds: Client, messages: Client, make_user: MakeUser
) -> None:
    owner, channel, hook = await _setup(client, guilds, make_user)
    answer = await _deliver(client, hook, "star", {"action": "created"})
    assert answer.status_code == 204
    assert await history(messages, owner, channel) == []
    missing = await client.post(f"{hook['url']}/github", json={"zen": "x"})
    assert missing.status_code == 400
    assert "X-GitHub-Event" in missing.text


async def test_a_github_secret_makes_the_signature_required(
    client: Client, guilds: Client, messages: Client, make_user: MakeUser
) -> None:
    owner, channel, hook = await _setup(client, guilds, make_user, github_secret="s3cret-value")
    assert hook["github_secret_set"] is True
    assert "s3cret-value" not in json.dumps(hook)
    ping = {"zen": "hi", "repository": {"full_name": "acme/app"}}
    unsigned = await _deliver(client, hook, "ping", ping)
    forged = await _deliver(client, hook, "ping", ping, secret="guess")
    for refused in (unsigned, forged):
        assert refused.status_code == 401, refused.text
        assert refused.json()["code"] == "invalid_signature"
    assert await history(messages, owner, channel) == []
    signed = await _deliver(client, hook, "ping", ping, secret="s3cret-value")
    assert signed.status_code == 204, signed.text
    # Removed by a manager: deliveries need no signature again.
    cleared = await client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"github_secret": None}, headers=owner.headers
    )
    assert cleared.json()["github_secret_set"] is False
    assert (await _deliver(client, hook, "ping", ping)).status_code == 204
    # The token alone cannot change it.
    by_token = await client.patch(hook["url"], json={"github_secret": "mine"})
    assert by_token.status_code == 400
