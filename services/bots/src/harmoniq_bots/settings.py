"""Settings of the bots service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from harmoniq_common.settings import CommonSettings

__all__ = ["BotsSettings"]


class BotsSettings(CommonSettings, frozen=True, kw_only=True):
    service: str = "bots"
    # Executions admitted per webhook in each window (Discord's figure: 5 per 2 seconds),
    # shared by every instance through Redis.
    webhook_execute_rate_limit: int = 5
    webhook_execute_rate_period_seconds: float = 2.0
    # Webhooks a channel may hold (Discord's figure).
    max_webhooks_per_channel: int = 15
