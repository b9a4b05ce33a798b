"""The gateway's doors into voice: request/reply for a session's own state, signals and READY's
voice states; core NATS messages for lease renewals and sessions that ended."""

from __future__ import annotations

import structlog
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from harmoniq_common import voice as contract
from harmoniq_common.codec import decode
from harmoniq_common.consumers import serve
from harmoniq_common.platform import Platform

from ..domain.signals import Signals
from ..domain.states import Voice

__all__ = ["serve_voice"]

log = structlog.get_logger(__name__)


async def serve_voice(platform: Platform, voice: Voice, signals: Signals) -> list[Subscription]:
    subjects, nats = platform.subjects, platform.nats

    async def update_state(request: contract.VoiceStateRequest) -> contract.VoiceStateReply:
        return contract.VoiceStateReply(state=await voice.update_own(request))

    async def states(request: contract.VoiceStatesRequest) -> contract.VoiceStates:
        return contract.VoiceStates(states=await voice.in_servers(map(int, request.server_ids)))

    async def renewed(message: Msg) -> None:
        try:
            await voice.renew(decode(message.data, contract.LeaseRenewal).session_ids)
        except Exception:  # the next renewal comes in seconds; the lease is longer
            log.warning("voice.renew_failed", exc_info=True)

    async def ended(message: Msg) -> None:
        try:
            await voice.session_ended(decode(message.data, contract.SessionEnded).session_id)
        except Exception:  # the lease runs out instead
            log.warning("voice.session_end_failed", exc_info=True)

    return [
        await serve(
            nats,
            subjects.rpc("voice", contract.VOICE_UPDATE_STATE),
            contract.VoiceStateRequest,
            update_state,
            queue="voice",
        ),
        await serve(
            nats,
            subjects.rpc("voice", contract.VOICE_SIGNAL),
            contract.SignalRequest,
            signals.relay,
            queue="voice",
            concurrency=64,
        ),
        await serve(
            nats,
            subjects.rpc("voice", contract.VOICE_STATES),
            contract.VoiceStatesRequest,
            states,
            queue="voice",
        ),
        await nats.subscribe(contract.lease_subject(subjects), queue="voice", cb=renewed),
        await nats.subscribe(contract.ended_subject(subjects), queue="voice", cb=ended),
    ]
