"""The examples run as processes against the fleet: the moderation bot
(examples/moderation_bot) deletes a matching message live, warns its author and reports to
the log channel, and leaves other messages alone; examples/seed_data.py fills it with a demo
community through the public API."""

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

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BOT = EXAMPLES / "moderation_bot" / "bot.py"
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


async def test_the_seed_script_fills_the_fleet_with_a_community(
    fleet: Fleet, http: httpx.Client
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / "seed_data.py"),
        "--url",
        fleet.url,
        "--users",
        "3",
        "--servers",
        "1",
        "--messages",
        "9",
        "--seed",
        "7",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    text = output.decode()
    assert process.returncode == 0, text
    names = text.split("done: users ", 1)[1].split(" (password", 1)[0].split(", ")
    server_id = text.split("servers: ", 1)[1].strip()
    login = http.post("/api/v1/auth/login", json={"login": names[1], "password": "demo password 1"})
    assert login.status_code == 200, login.text
    member = {"Authorization": f"Bearer {login.json()['access_token']}"}
    channels = http.get(f"/api/v1/servers/{server_id}/channels", headers=member).json()
    assert {"general", "random", "dev"} <= {c["name"] for c in channels}
    assert "staff" not in {c["name"] for c in channels}  # private: a member does not see it
    members = http.get(f"/api/v1/servers/{server_id}/members", headers=member).json()
    assert len(members) == 3
    total = 0
    reacted = 0
    for channel in (c for c in channels if c["kind"] == "text"):
        history = http.get(f"/api/v1/channels/{channel['id']}/messages", headers=member).json()
        total += len(history)
        reacted += sum(1 for m in history if m.get("reactions"))
    assert total == 9 + 1  # the messages and the webhook's release note
    assert reacted >= 1
