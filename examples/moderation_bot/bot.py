"""A small moderation bot for Harmoniq: it watches every channel it can view, deletes messages
matching configured patterns, warns their author in the channel, and reports each deletion to
a log channel.

    python examples/moderation_bot/bot.py --url http://127.0.0.1:8080 \
        --token "$BOT_TOKEN" --pattern 'free nitro' --pattern 'https?://bit\\.ly/\\S+' \
        --log-channel 123456789

It needs the permissions VIEW_CHANNEL, READ_MESSAGE_HISTORY, SEND_MESSAGES and
MANAGE_MESSAGES in the server it is installed in (see README.md). Only two libraries:
``websockets`` for the gateway, ``httpx`` for the REST API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

# Gateway opcodes (docs/api.md, "Gateway").
DISPATCH, HEARTBEAT, IDENTIFY, RECONNECT, INVALID_SESSION, HELLO = 0, 1, 2, 7, 9, 10


@dataclass
class Config:
    url: str
    token: str
    patterns: list[re.Pattern[str]]
    log_channel: str | None = None
    warning: str = "{mention}, your message was removed: it matched a blocked pattern."


@dataclass
class ModerationBot:
    config: Config
    http: httpx.AsyncClient
    me: str = ""
    deleted: list[str] = field(default_factory=list)

    def matching(self, content: str) -> re.Pattern[str] | None:
        return next((p for p in self.config.patterns if p.search(content)), None)

    async def on_message(self, message: dict[str, Any]) -> None:
        author = message["author"]
        if author["id"] == self.me or message.get("webhook_id"):
            return  # never moderate itself or webhooks
        pattern = self.matching(message.get("content") or "")
        if pattern is None:
            return
        channel = message["channel_id"]
        response = await self.http.delete(f"/api/v1/channels/{channel}/messages/{message['id']}")
        if response.status_code not in (204, 404):  # 404: someone was quicker
            log(f"cannot delete {message['id']}: {response.status_code} {response.text}")
            return
        self.deleted.append(message["id"])
        log(f"deleted {message['id']} by {author['username']} (matched {pattern.pattern!r})")
        mention = f"<@{author['id']}>"
        await self.say(channel, self.config.warning.format(mention=mention))
        if self.config.log_channel:
            await self.say(
                self.config.log_channel,
                f"Deleted a message by {author['username']} ({author['id']}) in <#{channel}>: "
                f"it matched `{pattern.pattern}`.",
            )

    async def say(self, channel: str, content: str) -> None:
        response = await self.http.post(
            f"/api/v1/channels/{channel}/messages",
            # The warning names its author without notifying everyone else.
            json={"content": content},
        )
        if response.status_code == 429:
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            await self.say(channel, content)
        elif response.status_code != 201:
            log(f"cannot post in {channel}: {response.status_code} {response.text}")

    async def run_once(self) -> None:
        """One gateway connection, until it closes or asks to reconnect."""
        gateway = self.config.url.replace("http", "ws", 1).rstrip("/") + "/gateway"
        async with websockets.connect(gateway, max_size=2**22) as ws:
            hello = json.loads(await ws.recv())
            assert hello["op"] == HELLO
            interval = hello["d"]["heartbeat_interval"] / 1000
            seq: list[int | None] = [None]

            async def heartbeat() -> None:
                while True:
                    await ws.send(json.dumps({"op": HEARTBEAT, "d": seq[0]}))
                    await asyncio.sleep(interval)

            beating = asyncio.create_task(heartbeat())
            try:
                await ws.send(
                    json.dumps(
                        {
                            "op": IDENTIFY,
                            "d": {"token": f"Bot {self.config.token}", "properties": {"os": "bot"}},
                        }
                    )
                )
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("s") is not None:
                        seq[0] = frame["s"]
                    if frame["op"] in (RECONNECT, INVALID_SESSION):
                        return
                    if frame["op"] != DISPATCH:
                        continue
                    if frame["t"] == "ready":
                        self.me = frame["d"]["user"]["id"]
                        servers = [s["server"]["name"] for s in frame["d"]["servers"]]
                        log(f"ready as {frame['d']['user']['username']} in {servers}")
                    elif frame["t"] == "message.create":
                        await self.on_message(frame["d"]["message"])
            finally:
                beating.cancel()

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                await self.run_once()
                backoff = 1.0
            except (OSError, websockets.WebSocketException) as exc:
                log(f"gateway: {exc!r}; again in {backoff:.0f} s")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)


def log(text: str) -> None:
    print(text, flush=True)


def parse(argv: list[str]) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("HARMONIQ_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("HARMONIQ_BOT_TOKEN"))
    parser.add_argument(
        "--pattern",
        action="append",
        default=[],
        help="a regular expression (case-insensitive); repeat for more",
    )
    parser.add_argument("--log-channel", default=os.environ.get("HARMONIQ_LOG_CHANNEL"))
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("--token (or HARMONIQ_BOT_TOKEN) is required")
    if not args.pattern:
        parser.error("give at least one --pattern")
    return Config(
        url=args.url,
        token=args.token,
        patterns=[re.compile(p, re.IGNORECASE) for p in args.pattern],
        log_channel=args.log_channel,
    )


async def main(argv: list[str]) -> None:
    config = parse(argv)
    headers = {"Authorization": f"Bot {config.token}"}
    async with httpx.AsyncClient(base_url=config.url, headers=headers, timeout=10) as http:
        await ModerationBot(config, http).run()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(sys.argv[1:]))
