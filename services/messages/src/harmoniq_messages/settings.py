"""Settings of the messages service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from harmoniq_common.settings import CommonSettings

__all__ = ["MessagesSettings"]


class MessagesSettings(CommonSettings, frozen=True, kw_only=True):
    service: str = "messages"
    # Sends queue on the pool at 10 (the outbox relay holds two); 40 measured +60% msg/s.
    database_pool_max: int = 40
    max_pins_per_channel: int = 50
    max_reaction_emoji_per_message: int = 20
    # Sends per user per channel (Discord's is 5 per 5 s).
    send_rate_limit: int = 5
    send_rate_period_seconds: float = 5.0
    # Deletion of a removed server's or channel's messages, this many rows per transaction.
    cleanup_batch_size: int = 5000
    # Acks of one user and channel closer together than this are written as one (the last).
    ack_coalesce_seconds: float = 1.0
