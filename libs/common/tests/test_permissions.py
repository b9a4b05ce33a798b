"""Properties of the permission computation, checked with hypothesis."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harmoniq_common.permissions import (
    ALL,
    DEFAULT_MEMBER,
    Overwrite,
    Permission,
    RoleGrant,
    base_permissions,
    channel_permissions,
    explain,
)

DEFAULT_ID = 1
USER = 99
bits = st.integers(min_value=0, max_value=int(ALL)).map(lambda v: v & ~Permission.ADMINISTRATOR)
roles = st.lists(
    st.builds(RoleGrant, st.integers(2, 20), bits), max_size=5, unique_by=lambda r: r.id
)
kinds = st.sampled_from(["text", "voice"])


@st.composite
def overwrites(draw: st.DrawFn, role_ids: list[int]) -> list[Overwrite]:
    targets = [("role", DEFAULT_ID), ("member", USER)] + [("role", i) for i in role_ids]
    chosen = draw(st.lists(st.sampled_from(targets), unique=True, max_size=len(targets)))
    return [Overwrite(kind, target, draw(bits), draw(bits)) for kind, target in chosen]


def _compute(
    default: int,
    member_roles: list[RoleGrant],
    ows: list[Overwrite],
    kind: str,
    *,
    owner: bool = False,
) -> int:
    return channel_permissions(
        user_id=USER,
        is_owner=owner,
        default_role=RoleGrant(DEFAULT_ID, default),
        member_roles=member_roles,
        overwrites=ows,
        channel_kind=kind,
    )


@given(bits, roles, st.data(), kinds)
def test_owner_and_administrator_may_do_everything(
    default: int, member_roles: list[RoleGrant], data: st.DataObject, kind: str
) -> None:
    ows = data.draw(overwrites([r.id for r in member_roles]))
    assert _compute(default, member_roles, ows, kind, owner=True) == ALL
    admin = [*member_roles, RoleGrant(50, Permission.ADMINISTRATOR)]
    assert _compute(default, admin, ows, kind) == ALL


@given(bits, roles, st.data(), kinds)
def test_without_view_nothing_is_allowed(
    default: int, member_roles: list[RoleGrant], data: st.DataObject, kind: str
) -> None:
    ows = data.draw(overwrites([r.id for r in member_roles]))
    result = _compute(default, member_roles, ows, kind)
    assert result == 0 or result & Permission.VIEW_CHANNEL


@given(bits, roles, st.data(), kinds, bits, bits)
def test_the_member_overwrite_has_the_last_word(
    default: int,
    member_roles: list[RoleGrant],
    data: st.DataObject,
    kind: str,
    allow: int,
    deny: int,
) -> None:
    ows = [
        o for o in data.draw(overwrites([r.id for r in member_roles])) if o.target_kind != "member"
    ]
    mine = Overwrite(
        "member", USER, allow | Permission.VIEW_CHANNEL, deny & ~allow & ~Permission.VIEW_CHANNEL
    )
    result = _compute(default, member_roles, [*ows, mine], kind)
    denied_for_me = mine.deny & ~mine.allow
    assert not result & denied_for_me
    granted = mine.allow
    if kind == "text" and not result & Permission.SEND_MESSAGES:
        granted &= ~(Permission.MENTION_EVERYONE | Permission.ATTACH_FILES | Permission.EMBED_LINKS)
    if kind == "voice" and not result & Permission.CONNECT:
        granted &= ~(
            Permission.SPEAK
            | Permission.MUTE_MEMBERS
            | Permission.DEAFEN_MEMBERS
            | Permission.MOVE_MEMBERS
        )
    assert result & granted == granted


@given(bits, roles, kinds)
def test_without_overwrites_a_channel_gives_the_base_minus_implicit_denies(
    default: int, member_roles: list[RoleGrant], kind: str
) -> None:
    base = base_permissions(
        is_owner=False, default_role=RoleGrant(DEFAULT_ID, default), member_roles=member_roles
    )
    result = _compute(default, member_roles, [], kind)
    assert result & ~base == 0  # never more than the base
    if base & Permission.VIEW_CHANNEL:
        assert result & Permission.VIEW_CHANNEL


@given(bits, roles, kinds)
def test_adding_a_role_never_removes_a_permission_without_overwrites(
    default: int, member_roles: list[RoleGrant], kind: str
) -> None:
    before = _compute(default, member_roles, [], kind)
    after = _compute(default, [*member_roles, RoleGrant(77, int(DEFAULT_MEMBER))], [], kind)
    assert before & ~after == 0


def test_a_role_allow_beats_a_default_role_deny() -> None:
    """The private channel: hidden from everyone, shown to one role."""
    hidden = Overwrite("role", DEFAULT_ID, deny=Permission.VIEW_CHANNEL)
    shown = Overwrite("role", 7, allow=Permission.VIEW_CHANNEL)
    plain = _compute(int(DEFAULT_MEMBER), [], [hidden, shown], "text")
    with_role = _compute(int(DEFAULT_MEMBER), [RoleGrant(7, 0)], [hidden, shown], "text")
    assert plain == 0
    assert with_role & Permission.VIEW_CHANNEL
    assert with_role & Permission.SEND_MESSAGES


def test_explain_lists_each_step() -> None:
    explanation = explain(
        user_id=USER,
        is_owner=False,
        default_role=RoleGrant(DEFAULT_ID, int(DEFAULT_MEMBER)),
        member_roles=[RoleGrant(7, 0)],
        channel_kind="text",
        overwrites=[
            Overwrite("role", DEFAULT_ID, deny=Permission.SEND_MESSAGES),
            Overwrite("member", USER, allow=Permission.SEND_MESSAGES),
        ],
    )
    whats = [step.what for step in explanation.steps]
    assert whats == [
        "default role",
        "role 7",
        "channel overwrite for the default role",
        "channel overwrite for the member",
    ]
    assert explanation.steps[2].permissions & Permission.SEND_MESSAGES == 0
    assert explanation.permissions & Permission.SEND_MESSAGES
