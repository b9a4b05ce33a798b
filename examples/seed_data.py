"""Fill a running Harmoniq with a demo community, through the public API only: users, servers
with roles and channels (one of them private), members joining by invite, messages with
mentions, reactions, a pinned message, and a webhook's post.

    .venv/bin/python examples/seed_data.py --url http://127.0.0.1:8080 --users 8 --servers 2 --messages 40

Everyone's password is printed at the end (``--password``), so you can log in as any of them.
Rate limits are honoured (a 429 waits its ``Retry-After``): registering is limited per client
address (``HARMONIQ_AUTH_RATE_LIMIT``, 5 a minute by default), so for many users raise it
on the fleet first. Names are suffixed with a random tag: running it twice adds a second
community rather than failing.
"""

from __future__ import annotations

import argparse
import itertools
import random
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Any

import httpx

LINES = [
    "good morning everyone",
    "has anyone tried the new release?",
    "I pushed a fix for the login bug",
    "lunch in 10?",
    "the build is green again",
    "can someone review my pull request?",
    "meeting notes are in the wiki",
    "welcome aboard!",
    "that graph looks great",
    "I'll be offline this afternoon",
]
EMOJI = ["👍", "🎉", "😂", "❤️", "👀"]
CHANNELS = ["announcements", "random", "dev", "design"]


@dataclass
class User:
    id: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Seeder:
    def __init__(self, http: httpx.Client, password: str, tag: str) -> None:
        self.http = http
        self.password = password
        self.tag = tag

    def call(self, method: str, path: str, user: User | None = None, **kwargs: Any) -> Any:
        while True:
            response = self.http.request(
                method, path, headers=user.headers if user else {}, **kwargs
            )
            if response.status_code == 429:
                wait = float(response.headers.get("Retry-After", "1"))
                print(f"  rate limited on {path}: waiting {wait:.0f} s", flush=True)
                time.sleep(wait)
                continue
            if response.status_code >= 400:
                raise SystemExit(f"{method} {path}: {response.status_code} {response.text}")
            return response.json() if response.content else None

    def user(self, index: int) -> User:
        name = f"demo{index}_{self.tag}"
        body = self.call(
            "POST",
            "/api/v1/auth/register",
            json={"username": name, "email": f"{name}@example.com", "password": self.password},
        )
        return User(body["user"]["id"], name, body["access_token"])

    def server(self, owner: User, members: list[User], index: int, messages: int) -> str:
        server = self.call("POST", "/api/v1/servers", owner, json={"name": f"Demo {index + 1}"})
        sid = server["id"]
        general = next(
            c["id"]
            for c in self.call("GET", f"/api/v1/servers/{sid}/channels", owner)
            if c["kind"] == "text"
        )
        channels = [general]
        for name in CHANNELS:
            made = self.call("POST", f"/api/v1/servers/{sid}/channels", owner, json={"name": name})
            channels.append(made["id"])
        staff = self.call("POST", f"/api/v1/servers/{sid}/channels", owner, json={"name": "staff"})
        self.call(  # private: the default role cannot view it
            "PUT",
            f"/api/v1/channels/{staff['id']}/permissions/{sid}",
            owner,
            json={"target_kind": "role", "allow": 0, "deny": 1},
        )
        role = self.call(
            "POST",
            f"/api/v1/servers/{sid}/roles",
            owner,
            json={"name": "helpers", "permissions": 4, "color": 0x2E86DE},
        )
        invite = self.call("POST", f"/api/v1/channels/{general}/invites", owner, json={})
        for member in members:
            self.call("POST", f"/api/v1/invites/{invite['code']}", member)
        for member in members[:2]:
            self.call("PUT", f"/api/v1/servers/{sid}/members/{member.id}/roles/{role['id']}", owner)

        everyone = [owner, *members]
        posted: list[tuple[str, str]] = []
        authors = itertools.cycle(everyone)
        for n in range(messages):
            author, channel = next(authors), random.choice(channels)
            content = random.choice(LINES)
            if n % 7 == 3:
                content = f"<@{random.choice(everyone).id}> {content}"
            message = self.call(
                "POST", f"/api/v1/channels/{channel}/messages", author, json={"content": content}
            )
            posted.append((channel, message["id"]))
        for channel, message_id in random.sample(posted, k=min(len(posted), messages // 3)):
            reactor = random.choice(everyone)
            emoji = random.choice(EMOJI)  # httpx percent-encodes it in the path
            self.call(
                "PUT",
                f"/api/v1/channels/{channel}/messages/{message_id}/reactions/{emoji}/@me",
                reactor,
            )
        if posted:
            channel, message_id = posted[0]
            self.call("PUT", f"/api/v1/channels/{channel}/messages/{message_id}/pin", owner)
        hook = self.call(
            "POST",
            f"/api/v1/servers/{sid}/webhooks",
            owner,
            json={"channel_id": channels[1], "name": "Release bot"},
        )
        self.call(
            "POST",
            hook["url"],
            json={
                "content": "v1.2.0 is out",
                "embeds": [{"title": "Release v1.2.0", "color": 0x27AE60}],
            },
        )
        print(f"  server {sid}: {len(channels) + 1} channels, {len(posted)} messages", flush=True)
        return str(sid)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--users", type=int, default=6)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--messages", type=int, default=30, help="per server")
    parser.add_argument("--password", default="demo password 1")
    parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable runs)")
    args = parser.parse_args(argv)
    if args.users < 2 or args.servers < 1 or args.messages < 0:
        parser.error("at least 2 users and 1 server")
    random.seed(args.seed)
    tag = secrets.token_hex(2)
    with httpx.Client(base_url=args.url, timeout=30) as http:
        seeder = Seeder(http, args.password, tag)
        print(f"registering {args.users} users…", flush=True)
        users = [seeder.user(i) for i in range(args.users)]
        servers = []
        for index in range(args.servers):
            owner = users[index % len(users)]
            members = [u for u in users if u is not owner]
            servers.append(seeder.server(owner, members, index, args.messages))
    print(f"done: users {', '.join(u.name for u in users)} (password {args.password!r})")
    print(f"servers: {', '.join(servers)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
