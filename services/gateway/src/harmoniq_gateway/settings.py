"""Settings of the gateway service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from harmoniq_common.settings import CommonSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(CommonSettings, frozen=True, kw_only=True):
    service: str = "gateway"
    heartbeat_interval_ms: int = 41_250
    # A session may be resumed, on any instance, this long after its connection dropped.
    resume_window_seconds: int = 180
    identify_timeout_seconds: float = 20.0
    max_frame_bytes: int = 16_384
    client_events_per_window: int = 30
    client_event_window_seconds: float = 10.0
    # Frames waiting for a slow client where frames go through ASGI (not uvicorn's sans-I/O
    # protocol) or before READY is out; past this it is disconnected (it may resume).
    send_queue_limit: int = 2048
    # Bytes written to a client's socket and not yet taken by it; past this it is disconnected
    # (it may resume). Above the largest READY (~2.2 MB for 100 servers / 5,000 channels).
    send_buffer_bytes: int = 4 * 1024 * 1024
    # Coalescing for large channels, off at 0: after a flush that wrote to at least
    # flush_window_sockets sockets, the next waits until this many ms after it, so frames a
    # few ms apart leave together. At N = 1,000 on two instances, one message at a time, 40 ms
    # cut the CPU per message by 35-40 % and raised the rate by half, for ~15-25 ms more
    # latency (docs/performance.md, sixth part); bursts are batched already.
    flush_window_ms: Annotated[float, msgspec.Meta(ge=0.0, le=1000.0)] = 0.0
    flush_window_sockets: Annotated[int, msgspec.Meta(ge=1)] = 256
    # Durable events waiting to be dispatched past which typing events are dropped (counted
    # in harmoniq_gateway_shed_total): under overload the messages go first.
    shed_typing_backlog: int = 200
    typing_timeout_seconds: float = 8.0
    # A user's typing in one channel is published at most once per this many seconds
    # (renewals in between are dropped; keep it below the timeout).
    typing_throttle_seconds: float = 5.0
    # Interest changes (sessions arriving on new servers) are gathered this long before the
    # instance's JetStream consumer is replaced.
    interest_debounce_seconds: float = 0.02
    # Recent events kept to replay to a session that joins a little behind (READY being
    # built, a quick RESUME) without replacing the consumer.
    replay_buffer_events: int = 10_000
    # Presence: changes of one user within this window go out as one update; servers above
    # this many members send presence only to sessions that asked for it (op 8).
    presence_coalesce_seconds: float = 0.5
    large_server_threshold: int = 75
    # op 8 answers with who is online in pages of about this many (HSCAN's COUNT).
    members_page_size: int = 1000
    presence_sweep_interval_seconds: float = 5.0
    # Heartbeats renew the session's resume record and presence on a Redis pool of their own,
    # so liveness never waits behind delivery work for a connection (issue #15).
    liveness_redis_pool_max: int = 8
    # Allocations between young-generation collections (Python's default: 700). Thousands of
    # long-lived sessions make every full collection walk millions of objects; collecting
    # less often trades a little memory for far fewer of those pauses. 0 keeps the default.
    gc_gen0_threshold: int = 50_000
    # Voice: a session's voice state lease is renewed this often (the voice service's
    # HARMONIQ_STATE_TTL_SECONDS must be a few times longer); signals (op 13) have their own
    # budget instead of the frame budget above (an ICE exchange with a few peers is bursty).
    voice_lease_renew_seconds: float = 3.0
    voice_signals_per_window: int = 100
    voice_signal_window_seconds: float = 10.0
