"""Relaying WebRTC signalling (SDP offers/answers, ICE candidates) between two peers.

A signal goes from one session to one other user, and only when both are in the same voice
channel right now (the voice states here are the authority, so a peer that was moved or
disconnected a moment ago is refused). It is then published on core NATS to the subject of
the peer's gateway session, which whichever gateway instance holds that session follows: at
most once, live only, as signalling is (a lost candidate is renegotiated by the peers).
"""

from __future__ import annotations

from harmoniq_common.codec import encode
from harmoniq_common.errors import Forbidden, NotFound
from harmoniq_common.platform import Platform
from harmoniq_common.voice import (
    SignalDelivery,
    SignalRelayed,
    SignalRequest,
    session_signal_subject,
)

from ..store import states

__all__ = ["Signals"]


class Signals:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def relay(self, request: SignalRequest) -> SignalRelayed:
        sender, peer = int(request.from_user_id), int(request.to_user_id)
        async with self._platform.pool.acquire() as conn:
            rows = {int(r.user_id): r for r in await states.peers(conn, [sender, peer])}
        mine = rows.get(sender)
        if mine is None or mine.session_id != request.from_session_id:
            raise Forbidden("join a voice channel from this session first", code="not_in_voice")
        theirs = rows.get(peer)
        if sender == peer or theirs is None or theirs.channel_id != mine.channel_id:
            raise NotFound("that user is not in your voice channel", code="peer_not_in_channel")
        delivery = SignalDelivery(
            channel_id=mine.channel_id,
            from_user_id=request.from_user_id,
            from_session_id=request.from_session_id,
            to_session_id=theirs.session_id,
            kind=request.kind,
            sdp=request.sdp,
            candidate=request.candidate,
            sdp_mid=request.sdp_mid,
            sdp_mline_index=request.sdp_mline_index,
        )
        subjects = self._platform.subjects
        await self._platform.nats.publish(
            session_signal_subject(subjects, theirs.session_id), encode(delivery)
        )
        return SignalRelayed(to_session_id=theirs.session_id)
