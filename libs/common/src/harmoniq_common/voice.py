"""Voice: the wire contracts between the voice service and the gateway.

The voice service owns who is in which voice channel (``voice.voice_states``); the gateway
carries the user's own requests to it and the WebRTC signalling between peers. Over NATS:

``{ns}.rpc.voice.update_state``   request/reply: a session joins, moves, leaves, (un)mutes
``{ns}.rpc.voice.signal``         request/reply: relay one SDP/ICE message to a peer in the
                                  same channel (the voice service checks, then publishes it)
``{ns}.rpc.voice.states``         request/reply: the voice states of some servers (READY)
``{ns}.eph.voice.session.{sid}``  core NATS: signals for one gateway session, delivered by
                                  whichever gateway instance holds it
``{ns}.eph.voice.lease``          core NATS: a gateway renews its sessions' voice states
``{ns}.eph.voice.ended``          core NATS: a gateway session ended; its voice state goes

Voice states are leased to the gateway session that joined: a gateway renews the lease every
few seconds while the session is connected, and says at once when it ends. A gateway that
dies renews nothing, so its sessions leave voice when the lease runs out (seconds), swept by
the voice service. Changes are durable ``voice.state_update`` events
(:class:`harmoniq_common.events.VoiceStateUpdated`) through the outbox.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from .bus import Subjects
from .ids import Snowflake
from .validation import anchored

__all__ = [
    "MAX_CANDIDATE_CHARS",
    "MAX_SDP_CHARS",
    "VOICE_SIGNAL",
    "VOICE_STATES",
    "VOICE_UPDATE_STATE",
    "LeaseRenewal",
    "SessionEnded",
    "SignalDelivery",
    "SignalKind",
    "SignalRelayed",
    "SignalRequest",
    "VoiceState",
    "VoiceStateReply",
    "VoiceStateRequest",
    "VoiceStates",
    "VoiceStatesRequest",
    "ended_subject",
    "lease_subject",
    "session_signal_subject",
]

VOICE_UPDATE_STATE = "update_state"
VOICE_SIGNAL = "signal"
VOICE_STATES = "states"

# An SDP of a few audio/video sections and a data channel is 2-6 KB; the gateway's frame
# limit (16 KiB) bounds the whole frame anyway.
MAX_SDP_CHARS = 12_000
MAX_CANDIDATE_CHARS = 1_024
SessionId = Annotated[str, Meta(pattern=anchored("[0-9a-f]{32}"))]
SignalKind = Literal["offer", "answer", "candidate"]


def session_signal_subject(subjects: Subjects, session_id: str) -> str:
    return subjects.ephemeral("voice", "session", session_id)


def lease_subject(subjects: Subjects) -> str:
    return subjects.ephemeral("voice", "lease")


def ended_subject(subjects: Subjects) -> str:
    return subjects.ephemeral("voice", "ended")


class VoiceState(msgspec.Struct, frozen=True, kw_only=True):
    """Who is in a voice channel, as clients see it. ``suppress``: joined without ``SPEAK``
    (muted until a moderator lets them speak or they rejoin with it)."""

    server_id: Snowflake
    channel_id: Snowflake
    user_id: Snowflake
    session_id: str
    self_mute: bool = False
    self_deaf: bool = False
    mute: bool = False  # by a moderator
    deaf: bool = False  # by a moderator
    suppress: bool = False


class VoiceStateRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A session's own change: ``channel_id`` set joins (or moves to) it, ``None`` leaves."""

    user_id: Snowflake
    session_id: SessionId
    channel_id: Snowflake | None
    self_mute: bool = False
    self_deaf: bool = False


class VoiceStateReply(msgspec.Struct, frozen=True, kw_only=True):
    state: VoiceState | None  # None: not in voice (any more)


class SignalRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One signalling message from a session to the peer ``to_user_id`` in its channel."""

    from_user_id: Snowflake
    from_session_id: SessionId
    to_user_id: Snowflake
    kind: SignalKind
    sdp: Annotated[str, Meta(max_length=MAX_SDP_CHARS)] | None = None
    candidate: Annotated[str, Meta(max_length=MAX_CANDIDATE_CHARS)] | None = None
    sdp_mid: Annotated[str, Meta(max_length=64)] | None = None
    sdp_mline_index: Annotated[int, Meta(ge=0, le=1024)] | None = None


class SignalRelayed(msgspec.Struct, frozen=True, kw_only=True):
    to_session_id: str


class SignalDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """What the peer's session receives as the ``voice.signal`` dispatch."""

    channel_id: Snowflake
    from_user_id: Snowflake
    from_session_id: str
    to_session_id: str
    kind: SignalKind
    sdp: str | None = None
    candidate: str | None = None
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


class VoiceStatesRequest(msgspec.Struct, frozen=True, kw_only=True):
    server_ids: Annotated[list[Snowflake], Meta(max_length=1000)]


class VoiceStates(msgspec.Struct, frozen=True, kw_only=True):
    states: list[VoiceState]


class LeaseRenewal(msgspec.Struct, frozen=True, kw_only=True):
    session_ids: list[str]


class SessionEnded(msgspec.Struct, frozen=True, kw_only=True):
    session_id: str
