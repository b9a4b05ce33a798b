"""Settings of the guilds service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from harmoniq_common.settings import CommonSettings

__all__ = ["GuildsSettings"]


class GuildsSettings(CommonSettings, frozen=True, kw_only=True):
    service: str = "guilds"
    max_servers_per_user: int = 200
    max_channels_per_server: int = 500
    max_roles_per_server: int = 250
    audit_log_retention_days: int = 90
    audit_purge_interval_seconds: float = 3600.0
    # Friend requests (and blocks, which share the bucket) per user, and DMs opened per user.
    relationship_rate_limit: int = 10
    relationship_rate_period_seconds: float = 60.0
    dm_open_rate_limit: int = 10
    dm_open_rate_period_seconds: float = 60.0
