"""Voice in the gateway: a session's own voice state (op 12), WebRTC signalling to one peer
(op 13), the voice states READY carries, and the lease that keeps a session's voice state
alive while it is connected (harmoniq_common.voice says how the pieces fit).

The voice service decides (who may join, whether two peers share a channel); the gateway
carries. A refused request is answered with a ``voice.error`` dispatch naming the op, the
code and the client's ``nonce``, never by closing the connection: a refused signal (the peer
just left) is ordinary in a call.

Signals for a session arrive on its own core NATS subject, which the instance holding the
session follows from its first voice request (and after a RESUME, in case it is in voice): a
signal reaches exactly the instance that can deliver it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Annotated

import msgspec
import structlog
from msgspec import Meta
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from harmoniq_common import voice as contract
from harmoniq_common.codec import decode, encode
from harmoniq_common.consumers import request
from harmoniq_common.errors import ApiError
from harmoniq_common.ids import Snowflake
from harmoniq_common.platform import Platform
from harmoniq_common.validation import anchored

from .protocol import Op, ServerFrame
from .session import Session
from .settings import GatewaySettings

__all__ = ["VoiceError", "VoiceRelay", "VoiceSignal", "VoiceStateUpdate"]

log = structlog.get_logger(__name__)

Nonce = Annotated[str, Meta(max_length=64, pattern=anchored("[A-Za-z0-9_.:-]*"))]


class VoiceStateUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """op 12: join or move to ``channel_id``, change self mute/deafen, or leave (``null``)."""

    channel_id: Snowflake | None
    self_mute: bool = False
    self_deaf: bool = False
    nonce: Nonce | None = None


class VoiceSignal(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """op 13: an SDP offer/answer (``sdp``) or an ICE candidate (``candidate``, ``sdp_mid``,
    ``sdp_mline_index``; all empty: end of candidates) for ``to_user_id``."""

    to_user_id: Snowflake
    kind: contract.SignalKind
    sdp: Annotated[str, Meta(max_length=contract.MAX_SDP_CHARS)] | None = None
    candidate: Annotated[str, Meta(max_length=contract.MAX_CANDIDATE_CHARS)] | None = None
    sdp_mid: Annotated[str, Meta(max_length=64)] | None = None
    sdp_mline_index: Annotated[int, Meta(ge=0, le=1024)] | None = None
    nonce: Nonce | None = None

    def __post_init__(self) -> None:
        if self.kind in ("offer", "answer") and not self.sdp:
            raise ValueError(f"an {self.kind} carries an sdp")


class VoiceError(msgspec.Struct, kw_only=True):
    """The ``voice.error`` dispatch: what was refused and why."""

    op: int
    code: str
    message: str
    nonce: str | None = None


class _Window:
    """At most ``limit`` events in any ``window`` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self._limit, self._window = limit, window
        self._times: deque[float] = deque()

    def admit(self) -> bool:
        now = time.monotonic()
        while self._times and now - self._times[0] > self._window:
            self._times.popleft()
        if len(self._times) >= self._limit:
            return False
        self._times.append(now)
        return True


class VoiceRelay:
    def __init__(
        self, platform: Platform, settings: GatewaySettings, sessions: dict[str, Session]
    ) -> None:
        self._platform = platform
        self._settings = settings
        self._sessions = sessions  # the gateway's own: id -> session on this instance
        self._followed: dict[str, Subscription] = {}  # session id -> its signal subscription
        self._windows: dict[str, _Window] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # -- the ops -----------------------------------------------------------------------------

    async def update_state(self, session: Session, change: VoiceStateUpdate) -> None:
        if change.channel_id is not None:
            await self._follow(session)  # before joining: no signal can arrive unheard
        try:
            await request(
                self._platform.nats,
                self._platform.subjects.rpc("voice", contract.VOICE_UPDATE_STATE),
                contract.VoiceStateRequest(
                    user_id=Snowflake(session.user_id),
                    session_id=session.id,
                    channel_id=change.channel_id,
                    self_mute=change.self_mute,
                    self_deaf=change.self_deaf,
                ),
                contract.VoiceStateReply,
            )
        except ApiError as exc:
            self._refuse(session, Op.VOICE_STATE_UPDATE, exc, change.nonce)
        # The outcome reaches the session as the voice.state_update every viewer gets.

    async def signal(self, session: Session, signal: VoiceSignal) -> None:
        window = self._windows.setdefault(
            session.id,
            _Window(
                self._settings.voice_signals_per_window, self._settings.voice_signal_window_seconds
            ),
        )
        if not window.admit():
            self._refuse(
                session,
                Op.VOICE_SIGNAL,
                ApiError("too many signals; slow down", code="rate_limited", status_code=429),
                signal.nonce,
            )
            return
        try:
            await request(
                self._platform.nats,
                self._platform.subjects.rpc("voice", contract.VOICE_SIGNAL),
                contract.SignalRequest(
                    from_user_id=Snowflake(session.user_id),
                    from_session_id=session.id,
                    to_user_id=signal.to_user_id,
                    kind=signal.kind,
                    sdp=signal.sdp,
                    candidate=signal.candidate,
                    sdp_mid=signal.sdp_mid,
                    sdp_mline_index=signal.sdp_mline_index,
                ),
                contract.SignalRelayed,
            )
        except ApiError as exc:
            self._refuse(session, Op.VOICE_SIGNAL, exc, signal.nonce)

    @staticmethod
    def _refuse(session: Session, op: Op, exc: ApiError, nonce: str | None) -> None:
        session.send(
            ServerFrame(
                op=Op.DISPATCH,
                t="voice.error",
                s=session.next_ephemeral_seq(),
                d=VoiceError(op=int(op), code=exc.code, message=exc.message, nonce=nonce),
            )
        )

    # -- signals to this instance's sessions ------------------------------------------------

    async def _follow(self, session: Session) -> None:
        if session.id in self._followed:
            return
        subject = contract.session_signal_subject(self._platform.subjects, session.id)
        subscription = await self._platform.nats.subscribe(subject, cb=self._on_signal)
        if session.closing is not None or self._sessions.get(session.id) is not session:
            await subscription.unsubscribe()  # it ended meanwhile
            return
        self._followed[session.id] = subscription
        await self._platform.nats.flush()

    async def resumed(self, session: Session) -> None:
        """A resumed session may be in voice (its lease held while it was away)."""
        await self._follow(session)

    async def _on_signal(self, message: Msg) -> None:
        try:
            delivery = decode(message.data, contract.SignalDelivery)
        except msgspec.DecodeError:
            return
        session = self._sessions.get(delivery.to_session_id)
        if session is None:
            return
        data = msgspec.to_builtins(delivery, enc_hook=str)
        session.send(
            ServerFrame(op=Op.DISPATCH, t="voice.signal", s=session.next_ephemeral_seq(), d=data)
        )

    # -- READY -------------------------------------------------------------------------------

    async def states(self, session: Session, server_ids: list[int]) -> list[contract.VoiceState]:
        """The voice states of the session's servers, in the channels it can view; none when
        voice does not answer (READY does not wait on voice; updates follow as events)."""
        if not server_ids:
            return []
        try:
            found = await request(
                self._platform.nats,
                self._platform.subjects.rpc("voice", contract.VOICE_STATES),
                contract.VoiceStatesRequest(server_ids=[Snowflake(s) for s in server_ids]),
                contract.VoiceStates,
                timeout=1.0,
            )
        except ApiError:
            log.warning("gateway.voice_states_unavailable")
            return []
        return [s for s in found.states if session.can_view(int(s.server_id), int(s.channel_id))]

    # -- the lease ---------------------------------------------------------------------------

    async def ended(self, session: Session, *, leave: bool) -> None:
        """The connection is gone: stop following its signals and, unless it is moving to
        another instance (``leave`` False while draining), take it out of voice now."""
        self._windows.pop(session.id, None)
        subscription = self._followed.pop(session.id, None)
        if subscription is None:
            return  # never asked for voice: nothing to end
        with contextlib.suppress(Exception):
            await subscription.unsubscribe()
        if leave:
            try:
                await self._platform.nats.publish(
                    contract.ended_subject(self._platform.subjects),
                    encode(contract.SessionEnded(session_id=session.id)),
                )
            except Exception:  # the lease runs out instead, within seconds
                log.warning("gateway.voice_end_failed", exc_info=True)

    def start(self) -> None:
        self._renewer = asyncio.create_task(self._renew(), name="gateway-voice-lease")

    async def stop(self) -> None:
        """By flag and wake-up, not ``Task.cancel()`` (a cancel can be swallowed inside a NATS
        call, and the task would never end: the hub's reason too)."""
        self._stopping.set()
        if self._renewer is not None:
            await self._renewer

    async def _renew(self) -> None:
        """Every few seconds, one message renewing the voice lease of every session here that
        asked for voice (the voice service ignores those not in voice)."""
        subject = contract.lease_subject(self._platform.subjects)
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), self._settings.voice_lease_renew_seconds
                )
                return
            ids = list(self._followed)
            for start in range(0, len(ids), 2000):  # well under NATS's payload limit
                try:
                    await self._platform.nats.publish(
                        subject,
                        encode(contract.LeaseRenewal(session_ids=ids[start : start + 2000])),
                    )
                except Exception:
                    log.warning("gateway.voice_lease_failed", exc_info=True)
