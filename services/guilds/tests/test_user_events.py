"""Auth's user events: display names follow ``user.updated``; ``user.deleted`` takes the user out
of every server, hands the servers they owned on (or deletes them if nobody is left), once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from nats.aio.client import Client as NatsClient

from harmoniq_common.bus import Subjects, outgoing_headers
from harmoniq_common.events import (
    EventPayload,
    MemberLeft,
    ServerDeleted,
    ServerUpdated,
    UserCreated,
    UserDeleted,
    UserSummary,
    UserUpdated,
    decode_payload,
    encode_envelope,
)
from harmoniq_common.ids import Snowflake, SnowflakeGenerator
from harmoniq_common.testing.events import collect_events
from harmoniq_common.testing.users import TestUser
from harmoniq_common.testing.waiting import eventually

from guilds_testing import Client, create_server, invite_and_join, join

MakeUser = Callable[..., Awaitable[TestUser]]
# A worker id of its own, apart from announce_user's (1001, 1002) and the services'.
_event_ids = SnowflakeGenerator(1003)


async def _publish(
    nats_client: NatsClient,
    namespace: str,
    user_id: int,
    payload: EventPayload,
    *,
    event_id: Snowflake | None = None,
    msg_id: str | None = None,
) -> Snowflake:
    """As auth publishes it (JetStream, deduplicated by ``Nats-Msg-Id``)."""
    event_id = event_id or _event_ids.next_id()
    now = datetime.now(UTC)
    await nats_client.jetstream().publish(
        Subjects(namespace).user_event(user_id, payload.event_type),
        encode_envelope(event_id, payload, now),
        headers=outgoing_headers(msg_id=msg_id or str(event_id)),
    )
    return event_id


async def _members(client: Client, server_id: str, viewer: TestUser) -> dict[str, str]:
    response = await client.get(f"/api/v1/servers/{server_id}/members", headers=viewer.headers)
    assert response.status_code == 200, response.text
    return {m["user"]["id"]: m["user"]["username"] for m in response.json()}


async def test_a_deleted_account_leaves_everything_once(
    client: Client,
    make_user: MakeUser,
    db: asyncpg.Pool,
    nats_client: NatsClient,
    namespace: str,
) -> None:
    alice, bob, carol, dave = [await make_user(n) for n in ("alice", "bob", "carol", "dave")]
    shared = await create_server(client, alice, "Shared")
    code = await invite_and_join(client, shared, alice, bob)
    await join(client, code, carol)  # after bob: bob has been there longest
    alone = await create_server(client, alice, "Alone")
    elsewhere = await create_server(client, dave, "Elsewhere")
    await invite_and_join(client, elsewhere, dave, alice)

    # Display names follow auth's events.
    await _publish(
        nats_client,
        namespace,
        carol.id,
        UserUpdated(
            user=UserSummary(id=carol.id, username="caroline", avatar_url="https://x.test/c.png"),
            status="online",
        ),
    )

    async def renamed() -> bool:
        return (await _members(client, shared["id"], bob)).get(str(carol.id)) == "caroline"

    await eventually(renamed, what="carol's new name")
    shown = (
        await client.get(f"/api/v1/servers/{shared['id']}/members/{carol.id}", headers=bob.headers)
    ).json()
    assert shown["user"]["avatar_url"] == "https://x.test/c.png"

    deleted = UserDeleted(user_id=alice.id, deleted_at=datetime.now(UTC))
    event_id = await _publish(nats_client, namespace, alice.id, deleted)

    async def handed_on() -> bool:
        response = await client.get(f"/api/v1/servers/{shared['id']}", headers=bob.headers)
        return bool(response.json()["owner_id"] == str(bob.id))

    await eventually(handed_on, what="the shared server handed to bob")
    assert set(await _members(client, shared["id"], bob)) == {str(bob.id), str(carol.id)}
    assert set(await _members(client, elsewhere["id"], dave)) == {str(dave.id)}
    for server in (shared, alone, elsewhere):
        gone = await client.get(f"/api/v1/servers/{server['id']}", headers=alice.headers)
        assert gone.status_code == 404
    # The hand-over is on the record, as the deleted user's last act.
    log = (
        await client.get(
            f"/api/v1/servers/{shared['id']}/audit-log?action=server.transfer", headers=bob.headers
        )
    ).json()
    assert [(e["actor_id"], e["target_id"], e["reason"]) for e in log] == [
        (str(alice.id), str(bob.id), "account deleted")
    ]

    # Redelivered (a new Nats-Msg-Id, the same event), and late news about the account:
    # neither changes anything. A rename of carol afterwards tells us both were handled.
    await _publish(nats_client, namespace, alice.id, deleted, event_id=event_id, msg_id="again")
    await _publish(
        nats_client,
        namespace,
        alice.id,
        UserCreated(user=UserSummary(id=alice.id, username="alice"), created_at=datetime.now(UTC)),
    )
    await _publish(
        nats_client,
        namespace,
        carol.id,
        UserUpdated(user=UserSummary(id=carol.id, username="carol3"), status="online"),
    )

    async def renamed_again() -> bool:
        return (await _members(client, shared["id"], bob)).get(str(carol.id)) == "carol3"

    await eventually(renamed_again, what="carol's second new name")
    row = await db.fetchrow("SELECT username, deleted FROM users WHERE id = $1", alice.id)
    assert (row["username"], row["deleted"]) == (f"deleted-{alice.id}", True)

    subjects = Subjects(namespace)
    for server in (shared, elsewhere):
        [left] = await collect_events(
            nats_client,
            namespace,
            subjects.server_event(int(server["id"]), "member.left"),
            count=1,
        )
        remaining = await db.fetchval(
            "SELECT count(*) FROM members WHERE server_id = $1", int(server["id"])
        )
        assert decode_payload(left) == MemberLeft(
            server_id=Snowflake(server["id"]),
            user_id=alice.id,
            reason="account_deleted",
            member_count=remaining,
        )
    [updated] = await collect_events(
        nats_client,
        namespace,
        subjects.server_event(int(shared["id"]), "server.updated"),
        count=1,
    )
    payload = decode_payload(updated)
    assert isinstance(payload, ServerUpdated)
    assert payload.server.owner_id == bob.id
    [removed] = await collect_events(
        nats_client,
        namespace,
        subjects.server_event(int(alone["id"]), "server.deleted"),
        count=1,
    )
    assert decode_payload(removed) == ServerDeleted(server_id=Snowflake(alone["id"]))
