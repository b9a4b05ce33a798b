"""Bots installed in servers, through the real nginx and every service: the authorization
matrix of a bot (granted, not granted, other server, revoked grant, uninstalled, deleted
account) on the main routes of guilds, messages, voice and media and on the gateway, and the
managed role that nobody edits, deletes or hands out through the role routes."""

from __future__ import annotations

import io
import secrets

import httpx
import pytest
from PIL import Image

from harmoniq_common.permissions import Permission
from harmoniq_gateway.protocol import Op

from fleet import Fleet
from fleet_people import Caller, audit_actions, person, text_channel
from gateway_client import GatewayClient


@pytest.fixture(scope="module")
def fleet_env() -> dict[str, str]:
    """A credential budget small enough to run out of (8 per account and minute), large
    enough for this module's registrations."""
    return {"HARMONIQ_AUTH_RATE_LIMIT": "8"}


GRANT = int(Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES | Permission.READ_MESSAGE_HISTORY)


async def test_an_installed_bot_can_do_what_it_was_granted_and_nothing_else(
    fleet: Fleet, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    owner, _ = person(http, f"own{tag}")
    member, member_account = person(http, f"mem{tag}")
    sid = owner.call("POST", "/api/v1/servers", 201, json={"name": "Botland"})["id"]
    other_sid = owner.call("POST", "/api/v1/servers", 201, json={"name": "Elsewhere"})["id"]
    general = text_channel(owner, sid)
    elsewhere = text_channel(owner, other_sid)
    private = owner.call("POST", f"/api/v1/servers/{sid}/channels", 201, json={"name": "staff"})
    owner.call(
        "PUT",
        f"/api/v1/channels/{private['id']}/permissions/{sid}",
        204,
        json={"target_kind": "role", "allow": 0, "deny": int(Permission.VIEW_CHANNEL)},
    )
    invite = owner.call("POST", f"/api/v1/channels/{general}/invites", 201, json={})
    member.call("POST", f"/api/v1/invites/{invite['code']}", 200)

    # Installing needs MANAGE_SERVER, and nobody grants what they lack.
    assert member.code(
        "POST", f"/api/v1/servers/{sid}/bots", json={"username": f"nope{tag}", "permissions": GRANT}
    ) == (403, "missing_permission")
    assert member.code("GET", f"/api/v1/servers/{sid}/bots")[0] == 403
    # Bad input: both ways at once, neither, unknown bits, unknown fields.
    for body in (
        {"permissions": GRANT},
        {"permissions": GRANT, "bot_id": "1", "username": f"x{tag}"},
        {"permissions": 1 << 30, "username": f"x{tag}"},
        {"permissions": -1, "username": f"x{tag}"},
        {"permissions": GRANT, "username": f"x{tag}", "admin": True},
        {"permissions": GRANT, "username": "has space"},
    ):
        assert owner.code("POST", f"/api/v1/servers/{sid}/bots", json=body)[0] == 400, body

    installed = owner.call(
        "POST",
        f"/api/v1/servers/{sid}/bots",
        201,
        json={"username": f"mod{tag}", "permissions": GRANT},
    )
    bot_id, role_id, token = installed["bot_id"], installed["role_id"], installed["token"]
    assert installed["permissions"] == GRANT
    bot = Caller(http, f"Bot {token}")
    listed = owner.call("GET", f"/api/v1/servers/{sid}/bots", 200)
    assert [(b["bot_id"], b["role_id"]) for b in listed] == [(bot_id, role_id)]
    assert "token" not in listed[0]
    assert "bot.add" in audit_actions(owner, sid)
    roles = owner.call("GET", f"/api/v1/servers/{sid}/roles", 200)
    managed = next(r for r in roles if r["id"] == role_id)
    assert managed["managed"] is True and managed["permissions"] == GRANT

    # The managed role: no edit, delete or assignment through the role routes (even the owner).
    assert owner.code(
        "PATCH", f"/api/v1/servers/{sid}/roles/{role_id}", json={"permissions": 0}
    ) == (403, "managed_role")
    assert owner.code("DELETE", f"/api/v1/servers/{sid}/roles/{role_id}") == (403, "managed_role")
    member_id = member_account["user"]["id"]
    assert owner.code("PUT", f"/api/v1/servers/{sid}/members/{member_id}/roles/{role_id}") == (
        403,
        "managed_role",
    )

    gateway = await GatewayClient.connect(fleet.url.replace("http://", "ws://") + "/gateway")
    ready = await gateway.identify(f"Bot {token}")
    servers = {s["server"]["id"]: s for s in ready["d"]["servers"]}
    assert list(servers) == [sid]
    assert general in [c["id"] for c in servers[sid]["channels"]]
    assert private["id"] not in [c["id"] for c in servers[sid]["channels"]]

    # Granted: read the channels it can view, read history, post.
    seen = [c["id"] for c in bot.call("GET", f"/api/v1/servers/{sid}/channels", 200)]
    assert general in seen and private["id"] not in seen
    bot.call("POST", f"/api/v1/channels/{general}/messages", 201, json={"content": "hello"})
    bot.call("GET", f"/api/v1/channels/{general}/messages", 200)

    # The gateway: a message in the private channel never reaches it; one in general does.
    owner.call("POST", f"/api/v1/channels/{private['id']}/messages", 201, json={"content": "s"})
    said = owner.call("POST", f"/api/v1/channels/{general}/messages", 201, json={"content": "hi"})
    frame = await gateway.dispatch("message.create")
    while frame["d"]["message"]["author"]["id"] == bot_id:  # its own "hello"
        frame = await gateway.dispatch("message.create")
    assert frame["d"]["message"]["id"] == said["id"]

    # Voice, as for any member, within the grant: it sees who is in a voice channel it may
    # view, cannot join without CONNECT, and mutes or disconnects nobody.
    channels = owner.call("GET", f"/api/v1/servers/{sid}/channels", 200)
    voice = next(c["id"] for c in channels if c["kind"] == "voice")
    other_voice = next(
        c["id"] for c in owner.call("GET", f"/api/v1/servers/{other_sid}/channels", 200)
        if c["kind"] == "voice"
    )  # fmt: skip
    assert bot.call("GET", f"/api/v1/channels/{voice}/voice-states", 200) == []
    assert bot.code("GET", f"/api/v1/channels/{other_voice}/voice-states")[0] == 404
    await gateway.send(Op.VOICE_STATE_UPDATE, {"channel_id": voice})
    assert (await gateway.dispatch("voice.error"))["d"]["code"] == "missing_connect"
    voice_member = f"/api/v1/channels/{voice}/voice-states/{member_account['user']['id']}"
    assert bot.code("PATCH", voice_member, json={"mute": True}) == (403, "missing_permissions")
    assert bot.code("DELETE", voice_member) == (403, "missing_permissions")
    # Media: an attachment in a channel it may view, and none in one it may not.
    image = io.BytesIO()
    Image.new("RGB", (4, 4), "navy").save(image, "PNG")
    shown, hidden = [
        owner.call(
            "POST", "/api/v1/media/upload", 201, data={"purpose": "attachment"},
            files={"file": ("dot.png", image.getvalue(), "image/png")},
        )["id"]
        for _ in range(2)
    ]  # fmt: skip
    owner.call("POST", f"/api/v1/channels/{general}/messages", 201, json={"attachments": [shown]})
    owner.call(
        "POST", f"/api/v1/channels/{private['id']}/messages", 201, json={"attachments": [hidden]}
    )
    assert bot.code("GET", f"/api/v1/media/{shown}")[0] == 302
    assert bot.code("GET", f"/api/v1/media/{hidden}")[0] == 404
    await gateway.dispatch("message.create")  # the attachment in general, before what follows

    # Not granted, though the default role has it or it is a moderator's.
    assert bot.code("GET", f"/api/v1/channels/{private['id']}/messages")[0] == 404
    assert (
        bot.code("POST", f"/api/v1/channels/{private['id']}/messages", json={"content": "x"})[0]
        == 404
    )
    assert bot.code("DELETE", f"/api/v1/channels/{general}/messages/{said['id']}")[0] == 403
    assert (
        bot.code("POST", f"/api/v1/channels/{general}/invites", json={})[0] == 403
    )  # default role's
    assert bot.code("POST", f"/api/v1/servers/{sid}/channels", json={"name": "x"})[0] == 403
    assert bot.code("GET", f"/api/v1/servers/{sid}/audit-log")[0] == 403
    assert bot.code(
        "POST", f"/api/v1/servers/{sid}/bots", json={"username": f"kid{tag}", "permissions": 1}
    ) == (403, "users_only")
    # Another server: as if it did not exist.
    assert bot.code("GET", f"/api/v1/servers/{other_sid}/channels")[0] == 404
    assert (
        bot.code("POST", f"/api/v1/channels/{elsewhere}/messages", json={"content": "x"})[0] == 404
    )

    # A grant widened by the owner, then revoked to viewing only.
    owner.call(
        "PATCH",
        f"/api/v1/servers/{sid}/bots/{bot_id}",
        200,
        json={"permissions": GRANT | int(Permission.MANAGE_MESSAGES)},
    )
    bot.call("DELETE", f"/api/v1/channels/{general}/messages/{said['id']}", 204)
    narrowed = owner.call(
        "PATCH",
        f"/api/v1/servers/{sid}/bots/{bot_id}",
        200,
        json={"permissions": int(Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)},
    )
    assert narrowed["permissions"] == int(Permission.VIEW_CHANNEL | Permission.READ_MESSAGE_HISTORY)
    assert bot.code("POST", f"/api/v1/channels/{general}/messages", json={"content": "x"})[0] == 403
    bot.call("GET", f"/api/v1/channels/{general}/messages", 200)
    assert (
        member.code("PATCH", f"/api/v1/servers/{sid}/bots/{bot_id}", json={"permissions": 0})[0]
        == 403
    )
    assert "bot.update" in audit_actions(owner, sid)

    # Uninstalled: gone from the server, its role with it.
    owner.call("DELETE", f"/api/v1/servers/{sid}/bots/{bot_id}", 204)
    assert owner.code("DELETE", f"/api/v1/servers/{sid}/bots/{bot_id}") == (
        404,
        "unknown_installation",
    )
    assert bot.code("GET", f"/api/v1/servers/{sid}/channels")[0] == 404
    assert bot.code("GET", f"/api/v1/channels/{general}/messages")[0] == 404
    assert role_id not in [r["id"] for r in owner.call("GET", f"/api/v1/servers/{sid}/roles", 200)]
    assert owner.call("GET", f"/api/v1/servers/{sid}/bots", 200) == []
    assert "bot.remove" in audit_actions(owner, sid)
    await gateway.close()


async def test_an_existing_bot_is_installed_and_leaves_with_its_deleted_account(
    fleet: Fleet, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    owner, _ = person(http, f"own{tag}")
    stranger, _ = person(http, f"str{tag}")
    sid = owner.call("POST", "/api/v1/servers", 201, json={"name": "Bots"})["id"]
    general = text_channel(owner, sid)
    made = owner.call("POST", "/api/v1/bots", 201, json={"username": f"helper{tag}"})
    bot_id = made["bot"]["id"]
    bot = Caller(http, f"Bot {made['token']}")

    # Someone else's bot looks like no bot.
    theirs = stranger.call("POST", "/api/v1/servers", 201, json={"name": "Theirs"})["id"]
    assert stranger.code(
        "POST", f"/api/v1/servers/{theirs}/bots", json={"bot_id": bot_id, "permissions": 1}
    ) == (404, "unknown_bot")

    installed = owner.call(
        "POST", f"/api/v1/servers/{sid}/bots", 201, json={"bot_id": bot_id, "permissions": GRANT}
    )
    assert "token" not in installed
    assert owner.code(
        "POST", f"/api/v1/servers/{sid}/bots", json={"bot_id": bot_id, "permissions": GRANT}
    ) == (409, "already_installed")
    bot.call("POST", f"/api/v1/channels/{general}/messages", 201, json={"content": "up"})

    # Bots made on the spot spend the owner's credential budget, as POST /api/v1/bots does.
    answers = [
        http.post(
            f"/api/v1/servers/{sid}/bots",
            json={"username": f"spot{n}{tag}", "permissions": 1},
            headers=owner.headers,
        )
        for n in range(10)
    ]
    statuses = [a.status_code for a in answers]
    assert 429 in statuses and set(statuses) <= {201, 429}, statuses
    limited = answers[statuses.index(429)]
    assert limited.json()["code"] == "rate_limited"
    assert float(limited.headers["Retry-After"]) > 0

    watcher = await GatewayClient.connect(fleet.url.replace("http://", "ws://") + "/gateway")
    owner_token = owner.headers["Authorization"].removeprefix("Bearer ")
    await watcher.identify(owner_token)
    owner.call("DELETE", f"/api/v1/bots/{bot_id}", 204)
    assert bot.code("GET", f"/api/v1/servers/{sid}/channels")[0] == 401
    left = await watcher.dispatch("member.left")
    assert left["d"]["user_id"] == bot_id
    assert installed["role_id"] not in [
        r["id"] for r in owner.call("GET", f"/api/v1/servers/{sid}/roles", 200)
    ]
    assert bot_id not in [
        b["bot_id"] for b in owner.call("GET", f"/api/v1/servers/{sid}/bots", 200)
    ]
    await watcher.close()
