"""The event contracts: every payload says whether it changes access, once, where it is defined."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pytest

from harmoniq_common import events as ev
from harmoniq_common.events import ACCESS_CHANGES, EVENT_TYPES, AccessScope, EventPayload
from harmoniq_common.ids import Snowflake


def _payload_classes() -> set[type[EventPayload]]:
    found: set[type[EventPayload]] = set()
    pending: list[type[EventPayload]] = list(EventPayload.__subclasses__())
    while pending:
        cls = pending.pop()
        found.add(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_payload_is_registered() -> None:
    assert _payload_classes() == set(EVENT_TYPES.values())


@pytest.mark.parametrize("cls", [cls for _, cls in sorted(EVENT_TYPES.items())])
def test_every_payload_declares_whether_it_changes_access(cls: type[EventPayload]) -> None:
    # Declared on the class itself, not inherited: a new event type must decide.
    assert "changes_access" in vars(cls), f"{cls.__name__} does not declare changes_access"
    assert cls.changes_access in (*get_args(AccessScope), None)
    if cls.changes_access == "member":
        assert "access_changed_for" in vars(cls), f"{cls.__name__} must name its member"


def test_member_events_name_the_member_whose_access_changed() -> None:
    ada = ev.UserSummary(id=Snowflake(7), username="ada")
    now = datetime.now(UTC)
    server = Snowflake(1)
    member_events: list[EventPayload] = [
        ev.MemberUpdated(member=ev.MemberView(server_id=server, user=ada, joined_at=now)),
        ev.MemberLeft(server_id=server, user_id=ada.id, reason="kicked"),
        ev.BanAdded(server_id=server, user_id=ada.id, reason=None),
    ]
    assert {type(e) for e in member_events} == {
        cls for cls in EVENT_TYPES.values() if cls.changes_access == "member"
    }
    assert [e.access_changed_for() for e in member_events] == [7, 7, 7]


def test_what_changes_access() -> None:
    """The answer to the three lists that used to disagree (docs/decisions.md)."""
    assert {cls.event_type: cls.changes_access for cls in ACCESS_CHANGES} == {
        "server.updated": "server",
        "server.deleted": "server",
        "channel.created": "server",
        "channel.updated": "server",
        "channel.deleted": "server",
        "role.created": "server",
        "role.updated": "server",
        "role.deleted": "server",
        "member.updated": "member",
        "member.left": "member",
        "ban.added": "member",
    }
