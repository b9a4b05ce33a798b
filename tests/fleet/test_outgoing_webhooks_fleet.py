"""Outgoing webhooks through the real fleet: events POSTed, signed, to a receiver on loopback
(this module's fleet allows private targets, as a development setup would; the guard that
refuses them by default is services/bots/tests/test_outgoing_targets.py and
test_outgoing.py), only of channels the endpoint's bot can view, retried with backoff, and
the endpoint disabled (and audited) after repeated failures."""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
import pytest

from harmoniq_common.permissions import Permission
from harmoniq_common.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from harmoniq_common.testing.waiting import eventually

from fleet import Fleet
from fleet_people import Caller, audit_actions, person, text_channel
from webhook_receiver import Receiver


@pytest.fixture(scope="module")
def fleet_env() -> dict[str, str]:
    return {
        "HARMONIQ_OUTGOING_ALLOW_PRIVATE_TARGETS": "true",
        "HARMONIQ_OUTGOING_MAX_ATTEMPTS": "2",
        "HARMONIQ_OUTGOING_RETRY_BASE_SECONDS": "0.3",
        "HARMONIQ_OUTGOING_DISABLE_AFTER_FAILURES": "2",
    }


def _endpoint(owner: Caller, sid: str, url: str, events: list[str], **more: Any) -> Any:
    return owner.call(
        "POST",
        f"/api/v1/servers/{sid}/outgoing-webhooks",
        201,
        json={"url": url, "events": events, **more},
    )


async def test_events_reach_the_endpoint_signed_and_only_those_its_bot_may_see(
    fleet: Fleet, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    owner, _ = person(http, f"own{tag}")
    member, _ = person(http, f"mem{tag}")
    sid = owner.call("POST", "/api/v1/servers", 201, json={"name": "Out"})["id"]
    general = text_channel(owner, sid)
    private = owner.call("POST", f"/api/v1/servers/{sid}/channels", 201, json={"name": "staff"})
    owner.call(
        "PUT",
        f"/api/v1/channels/{private['id']}/permissions/{sid}",
        204,
        json={"target_kind": "role", "allow": 0, "deny": int(Permission.VIEW_CHANNEL)},
    )
    bot = owner.call(
        "POST",
        f"/api/v1/servers/{sid}/bots",
        201,
        json={"username": f"out{tag}", "permissions": int(Permission.VIEW_CHANNEL)},
    )
    receiver = Receiver()
    try:
        # Bad input: unknown event types, no events, a non-URL, unknown fields; and managers only.
        for body in (
            {"url": receiver.url, "events": ["user.created"]},
            {"url": receiver.url, "events": []},
            {"url": "not a url", "events": ["message.create"]},
            {"url": receiver.url, "events": ["message.create"], "extra": 1},
        ):
            response = owner.code("POST", f"/api/v1/servers/{sid}/outgoing-webhooks", json=body)
            assert response[0] == 400, body
        assert (
            member.code(
                "POST",
                f"/api/v1/servers/{sid}/outgoing-webhooks",
                json={"url": receiver.url, "events": ["message.create"]},
            )[0]
            == 404
        )  # not a member yet: the server is unknown to them

        endpoint = _endpoint(
            owner, sid, receiver.url, ["message.create", "member.joined"], bot_id=bot["bot_id"]
        )
        secret = endpoint["secret"]
        assert endpoint["viewer_id"] == bot["bot_id"] and endpoint["enabled"] is True
        listed = owner.call("GET", f"/api/v1/servers/{sid}/outgoing-webhooks", 200)
        assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]

        # In stream order: the private message first (its bot cannot view it), then general's.
        owner.call(
            "POST", f"/api/v1/channels/{private['id']}/messages", 201, json={"content": "psst"}
        )
        said = owner.call(
            "POST", f"/api/v1/channels/{general}/messages", 201, json={"content": "hello out"}
        )
        got = await receiver.next()
        headers = {k.lower(): v for k, v in got.headers.items()}
        assert verify(
            secret, headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()], got.body
        )
        assert not verify(
            "wrong", headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()], got.body
        )
        delivered = json.loads(got.body)
        assert delivered["type"] == "message.create" == headers["x-harmoniq-event"]
        assert delivered["server_id"] == sid
        assert delivered["data"]["message"]["id"] == said["id"]

        invite = owner.call("POST", f"/api/v1/channels/{general}/invites", 201, json={})
        member.call("POST", f"/api/v1/invites/{invite['code']}", 200)
        joined = json.loads((await receiver.next()).body)
        assert joined["type"] == "member.joined"

        async def logged() -> list[dict[str, Any]] | None:
            rows: list[dict[str, Any]] = owner.call(
                "GET", f"/api/v1/servers/{sid}/outgoing-webhooks/{endpoint['id']}/deliveries", 200
            )
            return rows if all(r["state"] == "delivered" for r in rows) else None

        log = await eventually(logged, what="deliveries settled")
        assert log is not None
        assert [r["event_type"] for r in log] == ["member.joined", "message.create"]
        assert all(r["last_status"] == 200 and r["attempts"] == 1 for r in log)
        assert receiver.requests.empty()  # the private message was never sent
        # Only managers read the log.
        assert (
            member.code(
                "GET", f"/api/v1/servers/{sid}/outgoing-webhooks/{endpoint['id']}/deliveries"
            )[0]
            == 403
        )
    finally:
        receiver.close()


async def test_a_failing_endpoint_is_retried_with_backoff_then_disabled_and_audited(
    fleet: Fleet, http: httpx.Client
) -> None:
    tag = secrets.token_hex(3)
    owner, _ = person(http, f"own{tag}")
    sid = owner.call("POST", "/api/v1/servers", 201, json={"name": "Flaky"})["id"]
    general = text_channel(owner, sid)
    failing = Receiver(status=500)
    try:
        endpoint = _endpoint(owner, sid, failing.url, ["message.create"])
        for n in range(2):
            owner.call(
                "POST", f"/api/v1/channels/{general}/messages", 201, json={"content": f"m{n}"}
            )
        arrivals: dict[str, list[float]] = {}
        for _ in range(4):  # 2 deliveries x 2 attempts
            got = await failing.next()
            arrivals.setdefault(got.headers["X-Harmoniq-Delivery"], []).append(got.at)
        assert sorted(len(times) for times in arrivals.values()) == [2, 2]
        for first, second in arrivals.values():
            assert second - first >= 0.3  # the backoff's first step

        async def disabled() -> dict[str, Any] | None:
            rows = owner.call("GET", f"/api/v1/servers/{sid}/outgoing-webhooks", 200)
            return rows[0] if not rows[0]["enabled"] else None

        row = await eventually(disabled, what="endpoint disabled")
        assert row is not None
        assert row["failures"] == 2 and row["disabled_at"] is not None
        await eventually(
            lambda: _async(lambda: "outgoing_webhook.disable" in audit_actions(owner, sid)),
            what="audit entry",
        )
        log = owner.call(
            "GET", f"/api/v1/servers/{sid}/outgoing-webhooks/{endpoint['id']}/deliveries", 200
        )
        assert {(r["state"], r["attempts"], r["last_status"]) for r in log} == {("failed", 2, 500)}
        # A manager re-enables it: deliveries resume, the failure count afresh.
        again = owner.call(
            "PATCH",
            f"/api/v1/servers/{sid}/outgoing-webhooks/{endpoint['id']}",
            200,
            json={"enabled": True},
        )
        assert again["enabled"] is True and again["failures"] == 0
        owner.call("POST", f"/api/v1/channels/{general}/messages", 201, json={"content": "m4"})
        assert json.loads((await failing.next()).body)["data"]["message"]["content"] == "m4"
        owner.call("DELETE", f"/api/v1/servers/{sid}/outgoing-webhooks/{endpoint['id']}", 204)
        assert owner.call("GET", f"/api/v1/servers/{sid}/outgoing-webhooks", 200) == []
    finally:
        failing.close()


async def _async(check: Any) -> Any:
    return check()
