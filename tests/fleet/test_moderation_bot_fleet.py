"""The example moderation bot (examples/moderation_bot) run as a process against the fleet:
it deletes a matching message live, warns its author and reports to the log channel, and
leaves other messages alone."""

from __future__ import annotations

import asyncio
import secrets
import sys
from pathlib import Path

import httpx

from harmoniq_common.permissions import Permission

from fleet import Fleet
from fleet_people import audit_actions, person, text_channel
from gateway_client import GatewayClient

BOT = Path(__file__).resolve().parents[2] / "examples" / "moderation_bot" / "bot.py"
GRANT = int(
    Permission.VIEW_CHANNEL
    | Permission.READ_MESSAGE_HISTORY
    | Permission.SEND_MESSAGES
    | Permission.MANAGE_MESSAGES
)


async def _line_with(stream: asyncio.StreamReader, text: str) -> str:
    async with asyncio.timeout(20):
        while True:
            line = (await stream.readline()).decode()
            assert line, f"the bot exited before printing {text!r}"
            if text in line:
                return line


async def test_the_example_bot_deletes_a_matching_message_live(
    fleet: Fleet, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    owner, owner_account = person(http, f"own{tag}")
    member, member_account = person(http, f"mem{tag}")
    sid = owner.call("POST", "/api/v1/servers", 201, json={"name": "Moderated"})["id"]
    general = text_channel(owner, sid)
    log_channel = owner.call(
        "POST", f"/api/v1/servers/{sid}/channels", 201, json={"name": "mod-log"}
    )
    invite = owner.call("POST", f"/api/v1/channels/{general}/invites", 201, json={})
    member.call("POST", f"/api/v1/invites/{invite['code']}", 200)
    bot = owner.call(
        "POST",
        f"/api/v1/servers/{sid}/bots",
        201,
        json={"username": f"mod{tag}", "permissions": GRANT},
    )
    assert "bot.add" in audit_actions(owner, sid)

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        "--url",
        fleet.url,
        "--token",
        bot["token"],
        "--pattern",
        r"free\s+nitro",
        "--log-channel",
        log_channel["id"],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    watcher = await GatewayClient.connect(fleet.url.replace("http://", "ws://") + "/gateway")
    try:
        await _line_with(process.stdout, "ready as")
        await watcher.identify(owner_account["access_token"])
        fine = member.call(
            "POST", f"/api/v1/channels/{general}/messages", 201, json={"content": "hello all"}
        )
        spam = member.call(
            "POST",
            f"/api/v1/channels/{general}/messages",
            201,
            json={"content": "Get FREE  Nitro here"},
        )
        deleted = await watcher.dispatch("message.delete")
        assert deleted["d"]["message_id"] == spam["id"]
        await _line_with(process.stdout, f"deleted {spam['id']}")

        history = member.call("GET", f"/api/v1/channels/{general}/messages", 200)
        ids = [m["id"] for m in history]
        assert fine["id"] in ids and spam["id"] not in ids

        async def posted_by_bot(channel: str) -> list[str]:
            while True:
                frame = await watcher.dispatch("message.create")
                message = frame["d"]["message"]
                if message["author"]["id"] == bot["bot_id"] and message["channel_id"] == channel:
                    return [message["content"]]

        warning = (await posted_by_bot(general))[0]
        assert f"<@{member_account['user']['id']}>" in warning
        report = (await posted_by_bot(log_channel["id"]))[0]
        assert spam["id"] not in report and "free\\s+nitro" in report
    finally:
        await watcher.close()
        process.terminate()
        await process.wait()
