"""Durable event payloads: the one source of truth for what travels on the bus.

Every event is an :class:`Envelope` whose ``data`` is the payload Struct registered for its
``type`` in :data:`EVENT_TYPES`. Payloads are frozen and keyword-only; adding an optional field
is compatible, renaming or removing one is not (add a new type instead).

Each payload also declares, once, whether it changes anyone's access to its server
(:attr:`EventPayload.changes_access`): guilds moves the server's permission epoch for those
events, consumers move it again when they arrive, and the gateway asks again for the
permissions of the sessions concerned. The three derive it from here (docs/decisions.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import msgspec

from .codec import dec_hook, enc_hook
from .ids import Snowflake
from .media import Attachment
from .webhooks import Embed, WebhookView

__all__ = [
    "ACCESS_CHANGES",
    "EVENT_TYPES",
    "AccessScope",
    "Envelope",
    "EventPayload",
    "UserCreated",
    "UserDeleted",
    "UserSessionsRevoked",
    "UserSummary",
    "UserUpdated",
    "VoiceStateUpdated",
    "decode_envelope",
    "decode_payload",
    "encode_envelope",
]


AccessScope = Literal["server", "member"]


class EventPayload(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every payload; ``event_type`` is the dispatch name (``user.created``…).

    ``changes_access`` (declared by every payload, no default) says whose answers to access
    questions about the event's server (``harmoniq_common.access``) it makes stale:
    ``"server"`` everyone's (channels, roles, overwrites, ownership, the server itself),
    ``"member"`` one member's (:meth:`access_changed_for`), ``None`` nobody's. Non-members'
    answers (404) are never cached, so joining a server makes nothing stale.
    """

    event_type: ClassVar[str]
    changes_access: ClassVar[AccessScope | None]

    def access_changed_for(self) -> Snowflake | None:
        """The member whose access a ``"member"`` event changes."""
        return None


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake  # the outbox row's id: unique, time-ordered, the dedup key
    type: str
    occurred_at: datetime
    data: msgspec.Raw


class UserSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What other services may keep about a user (display only)."""

    id: Snowflake
    username: str
    avatar_url: str | None = None


class UserCreated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "user.created"
    changes_access: ClassVar[AccessScope | None] = None
    user: UserSummary
    created_at: datetime


class UserUpdated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "user.updated"
    changes_access: ClassVar[AccessScope | None] = None
    user: UserSummary
    status: str


class UserDeleted(EventPayload, frozen=True, kw_only=True):
    """The account is gone: consumers anonymise what they hold about ``user_id``."""

    event_type: ClassVar[str] = "user.deleted"
    changes_access: ClassVar[AccessScope | None] = None
    user_id: Snowflake
    deleted_at: datetime


class UserSessionsRevoked(EventPayload, frozen=True, kw_only=True):
    """Tokens issued before ``revoked_before`` are dead; the gateway closes those sockets.

    ``session_id`` set means one session only (logout); unset means all of them.
    """

    event_type: ClassVar[str] = "user.sessions_revoked"
    changes_access: ClassVar[AccessScope | None] = None
    user_id: Snowflake
    session_id: Snowflake | None = None
    revoked_before: datetime
    reason: str


# --- servers, channels, roles, members, invites, bans (services/guilds) ------------------


class ServerView(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    name: str
    description: str | None = None
    icon_id: str | None = None
    icon_url: str | None = None  # the icon, shown to anyone without a token
    owner_id: Snowflake
    created_at: datetime


class OverwriteView(msgspec.Struct, frozen=True, kw_only=True):
    target_kind: str  # "role" | "member"
    target_id: Snowflake
    allow: int
    deny: int


class ChannelView(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    kind: str  # "text" | "voice" | "category"
    name: str
    topic: str | None = None
    position: int
    parent_id: Snowflake | None = None
    overwrites: list[OverwriteView] = []
    # Voice channels only (None elsewhere): at most this many users at once (0: no limit),
    # and the audio bitrate clients should aim for, in bits per second.
    user_limit: int | None = None
    bitrate: int | None = None


class RoleView(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    name: str
    permissions: int
    position: int
    color: int = 0
    default: bool = False  # the role every member has (id = server id)
    managed: bool = False  # an installed bot's role: changed only through its installation


class MemberView(msgspec.Struct, frozen=True, kw_only=True):
    server_id: Snowflake
    user: UserSummary
    nickname: str | None = None
    roles: list[Snowflake] = []
    joined_at: datetime


class ServerCreated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "server.created"
    changes_access: ClassVar[AccessScope | None] = None
    server: ServerView
    roles: list[RoleView]
    channels: list[ChannelView]


class ServerUpdated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "server.updated"
    changes_access: ClassVar[AccessScope | None] = "server"  # the owner may have changed
    server: ServerView


class ServerDeleted(EventPayload, frozen=True, kw_only=True):
    """Consumers remove everything they hold for this server."""

    event_type: ClassVar[str] = "server.deleted"
    changes_access: ClassVar[AccessScope | None] = "server"
    server_id: Snowflake


class ChannelCreated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "channel.created"
    changes_access: ClassVar[AccessScope | None] = "server"  # a server answer lists channels
    channel: ChannelView


class ChannelUpdated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "channel.updated"
    changes_access: ClassVar[AccessScope | None] = "server"
    channel: ChannelView


class ChannelDeleted(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "channel.deleted"
    changes_access: ClassVar[AccessScope | None] = "server"
    server_id: Snowflake
    channel_id: Snowflake


class RoleCreated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "role.created"
    # Nobody has it yet, but a channel answer lists the server's roles (for role mentions).
    changes_access: ClassVar[AccessScope | None] = "server"
    role: RoleView


class RoleUpdated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "role.updated"
    changes_access: ClassVar[AccessScope | None] = "server"
    role: RoleView


class RoleDeleted(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "role.deleted"
    changes_access: ClassVar[AccessScope | None] = "server"
    server_id: Snowflake
    role_id: Snowflake


class MemberJoined(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "member.joined"
    # Nothing cached to invalidate: their answer was a 404, which is never cached.
    changes_access: ClassVar[AccessScope | None] = None
    member: MemberView
    # The server's member count with them, exact in stream order (absent from events
    # published before it existed): set it, do not add one, and a replay cannot miscount.
    member_count: int | None = None


class MemberUpdated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "member.updated"
    changes_access: ClassVar[AccessScope | None] = "member"  # their roles
    member: MemberView

    def access_changed_for(self) -> Snowflake:
        return self.member.user.id


class MemberLeft(EventPayload, frozen=True, kw_only=True):
    """Left, kicked or banned: from now on this user sees nothing of the server."""

    event_type: ClassVar[str] = "member.left"
    changes_access: ClassVar[AccessScope | None] = "member"
    server_id: Snowflake
    user_id: Snowflake
    reason: str  # "left" | "kicked" | "banned" | "account_deleted"
    member_count: int | None = None  # without them; as in MemberJoined

    def access_changed_for(self) -> Snowflake:
        return self.user_id


class InviteCreated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "invite.created"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    code: str
    channel_id: Snowflake | None
    creator_id: Snowflake
    max_uses: int | None
    expires_at: datetime | None
    temporary: bool


class InviteDeleted(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "invite.deleted"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    code: str


class BanAdded(EventPayload, frozen=True, kw_only=True):
    """``delete_messages_seconds`` > 0 asks messages to remove the user's recent messages."""

    event_type: ClassVar[str] = "ban.added"
    changes_access: ClassVar[AccessScope | None] = "member"
    server_id: Snowflake
    user_id: Snowflake
    reason: str | None
    delete_messages_seconds: int = 0

    def access_changed_for(self) -> Snowflake:
        return self.user_id


class BanRemoved(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "ban.removed"
    changes_access: ClassVar[AccessScope | None] = None  # they may join again: see MemberJoined
    server_id: Snowflake
    user_id: Snowflake


# --- messages, reactions, pins (services/messages) ---------------------------------------------


class ReplyPreview(msgspec.Struct, frozen=True, kw_only=True):
    """Enough of the replied-to message to render the reply line; ``None`` fields if deleted."""

    id: Snowflake
    author: UserSummary | None = None
    content: str | None = None  # at most 100 characters


class MessageView(msgspec.Struct, frozen=True, kw_only=True):
    id: Snowflake
    server_id: Snowflake
    channel_id: Snowflake
    author: UserSummary
    content: str
    created_at: datetime
    edited_at: datetime | None = None
    reply_to: ReplyPreview | None = None
    mention_user_ids: list[Snowflake] = []
    mention_role_ids: list[Snowflake] = []
    mention_everyone: bool = False
    pinned: bool = False
    nonce: str | None = None
    # Optional so events written before files existed still decode.
    attachments: list[Attachment] = []
    # A webhook's message (its author is the webhook, shown with the execution's name and
    # avatar) and its embeds. Optional so earlier events still decode.
    webhook_id: Snowflake | None = None
    embeds: list[Embed] = []


class MessageCreated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "message.create"
    changes_access: ClassVar[AccessScope | None] = None
    message: MessageView


class MessageUpdated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "message.update"
    changes_access: ClassVar[AccessScope | None] = None
    message: MessageView


class MessageDeleted(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "message.delete"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    channel_id: Snowflake
    message_id: Snowflake


class MessagesBulkDeleted(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "message.bulk_delete"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    channel_id: Snowflake
    message_ids: list[Snowflake]


class ReactionAdded(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "reaction.add"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    channel_id: Snowflake
    message_id: Snowflake
    user_id: Snowflake
    emoji: str


class ReactionRemoved(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "reaction.remove"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    channel_id: Snowflake
    message_id: Snowflake
    user_id: Snowflake
    emoji: str


class PinUpdated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "pin.update"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    channel_id: Snowflake
    message_id: Snowflake
    pinned: bool
    last_pin_at: datetime | None  # the channel's most recent pin after this change


# --- direct messages and relationships (services/guilds), read states (services/messages) ---
# Each goes to user subjects only (``tx.emit_user``): a DM has no server, and its events reach
# its participants' sessions and nobody else's (docs/decisions.md, "Direct messages").


class DmChannelView(msgspec.Struct, frozen=True, kw_only=True):
    """A DM or group DM as its participants see it. A DM is its own scope: its messages'
    ``server_id`` is the DM's own id (no server has it: snowflakes are unique)."""

    id: Snowflake
    kind: str  # "dm" | "group_dm"
    recipients: list[UserSummary]  # every participant, the viewer included
    name: str | None = None  # group DMs
    icon_id: str | None = None  # group DMs
    owner_id: Snowflake | None = None  # group DMs: who adds and removes
    last_activity_id: Snowflake  # its newest message's id, its own while it has none


class DmChannelCreated(EventPayload, frozen=True, kw_only=True):
    """To each participant: the DM opened, or they were added to the group DM."""

    event_type: ClassVar[str] = "dm_channel.create"
    changes_access: ClassVar[AccessScope | None] = None  # guilds moves the DM's own epoch
    channel: DmChannelView


class DmChannelUpdated(EventPayload, frozen=True, kw_only=True):
    """To each participant: renamed, a new icon, someone added, left or removed."""

    event_type: ClassVar[str] = "dm_channel.update"
    changes_access: ClassVar[AccessScope | None] = None
    channel: DmChannelView


class DmChannelDeleted(EventPayload, frozen=True, kw_only=True):
    """To one user who left or was removed from a group DM: it is no longer theirs."""

    event_type: ClassVar[str] = "dm_channel.delete"
    changes_access: ClassVar[AccessScope | None] = None
    channel_id: Snowflake
    user_id: Snowflake


class RelationshipView(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a user's relationships. ``kind``: ``friend``, ``incoming`` (a request to
    them), ``outgoing`` (their request) or ``blocked`` (by them)."""

    user: UserSummary
    kind: str
    since: datetime


class RelationshipUpdated(EventPayload, frozen=True, kw_only=True):
    """To ``user_id`` only: an entry of their list is new or changed."""

    event_type: ClassVar[str] = "relationship.update"
    changes_access: ClassVar[AccessScope | None] = None
    user_id: Snowflake
    relationship: RelationshipView


class RelationshipRemoved(EventPayload, frozen=True, kw_only=True):
    """To ``user_id`` only: ``other_id`` left their list (unfriended, declined, cancelled,
    unblocked; a block looks the same to the one blocked as an unfriend)."""

    event_type: ClassVar[str] = "relationship.remove"
    changes_access: ClassVar[AccessScope | None] = None
    user_id: Snowflake
    other_id: Snowflake


class ChannelAcked(EventPayload, frozen=True, kw_only=True):
    """To ``user_id``'s sessions: they read ``channel_id`` up to ``message_id`` (on some
    device); ``mention_count`` is what is left unread of their mentions there."""

    event_type: ClassVar[str] = "channel.ack"
    changes_access: ClassVar[AccessScope | None] = None
    user_id: Snowflake
    channel_id: Snowflake
    message_id: Snowflake
    mention_count: int = 0


class NotificationSettingsUpdated(EventPayload, frozen=True, kw_only=True):
    """To ``user_id``'s sessions: their notification setting for a server or channel (a DM
    included) changed; ``level`` None inherits (a channel its server's, a server "all")."""

    event_type: ClassVar[str] = "notification_settings.update"
    changes_access: ClassVar[AccessScope | None] = None
    user_id: Snowflake
    scope_id: Snowflake
    level: str | None = None
    muted_until: datetime | None = None


class DmPrivacyUpdated(EventPayload, frozen=True, kw_only=True):
    """To ``user_id``'s sessions: whether ``server_id``'s other members may open DMs with
    them was set (``PUT /servers/{id}/privacy``), so every device shows the same switch."""

    event_type: ClassVar[str] = "dm_privacy.update"
    changes_access: ClassVar[AccessScope | None] = None
    user_id: Snowflake
    server_id: Snowflake
    allow_dms: bool


DIRECT_EVENTS: tuple[type[EventPayload], ...] = (
    DmChannelCreated,
    DmChannelUpdated,
    DmChannelDeleted,
    RelationshipUpdated,
    RelationshipRemoved,
    ChannelAcked,
    NotificationSettingsUpdated,
    DmPrivacyUpdated,
)


# --- webhooks (services/bots) ----------------------------------------------------------------
# Sent to those who may manage the channel's webhooks (the gateway requires MANAGE_WEBHOOKS).


class WebhookCreated(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "webhook.create"
    changes_access: ClassVar[AccessScope | None] = None
    webhook: WebhookView


class WebhookUpdated(EventPayload, frozen=True, kw_only=True):
    """A rename, a new avatar, a move to another channel (``previous_channel_id``), or a
    regenerated token (the view is unchanged then; the old token no longer works)."""

    event_type: ClassVar[str] = "webhook.update"
    changes_access: ClassVar[AccessScope | None] = None
    webhook: WebhookView
    previous_channel_id: Snowflake | None = None


class WebhookDeleted(EventPayload, frozen=True, kw_only=True):
    event_type: ClassVar[str] = "webhook.delete"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    channel_id: Snowflake
    webhook_id: Snowflake


# --- voice (services/voice) -------------------------------------------------------------------


class VoiceStateUpdated(EventPayload, frozen=True, kw_only=True):
    """A user joined, moved in, changed state in or left (``channel_id`` None) voice; the
    fields are :class:`harmoniq_common.voice.VoiceState`'s, as the dispatch shows them."""

    event_type: ClassVar[str] = "voice.state_update"
    changes_access: ClassVar[AccessScope | None] = None
    server_id: Snowflake
    channel_id: Snowflake | None
    user_id: Snowflake
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False
    mute: bool = False
    deaf: bool = False
    suppress: bool = False
    previous_channel_id: Snowflake | None = None  # the channel they were in before
    reason: str | None = None  # why they left or moved, when it was not their own doing


EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.event_type: cls
    for cls in (
        UserCreated,
        UserUpdated,
        UserDeleted,
        UserSessionsRevoked,
        ServerCreated,
        ServerUpdated,
        ServerDeleted,
        ChannelCreated,
        ChannelUpdated,
        ChannelDeleted,
        RoleCreated,
        RoleUpdated,
        RoleDeleted,
        MemberJoined,
        MemberUpdated,
        MemberLeft,
        InviteCreated,
        InviteDeleted,
        BanAdded,
        BanRemoved,
        MessageCreated,
        MessageUpdated,
        MessageDeleted,
        MessagesBulkDeleted,
        ReactionAdded,
        ReactionRemoved,
        PinUpdated,
        WebhookCreated,
        WebhookUpdated,
        WebhookDeleted,
        VoiceStateUpdated,
    )
}
# Direct messages, relationships and read states (the section above).
EVENT_TYPES.update({cls.event_type: cls for cls in DIRECT_EVENTS})

# Every type whose events change access to their server, as declared on each payload.
ACCESS_CHANGES: frozenset[type[EventPayload]] = frozenset(
    cls for cls in EVENT_TYPES.values() if cls.changes_access is not None
)

_encoder = msgspec.json.Encoder(enc_hook=enc_hook)
_envelope_decoder = msgspec.json.Decoder(Envelope, dec_hook=dec_hook)


def encode_envelope(event_id: Snowflake, payload: EventPayload, occurred_at: datetime) -> bytes:
    data = msgspec.Raw(_encoder.encode(payload))
    return _encoder.encode(
        Envelope(id=event_id, type=payload.event_type, occurred_at=occurred_at, data=data)
    )


def decode_envelope(raw: bytes) -> Envelope:
    return _envelope_decoder.decode(raw)


def decode_payload(envelope: Envelope) -> EventPayload:
    """The typed payload; raises ``KeyError`` for a type this build does not know."""
    return msgspec.json.decode(envelope.data, type=EVENT_TYPES[envelope.type], dec_hook=dec_hook)
