"""Settings of the auth service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from typing import ClassVar

from harmoniq_common.settings import CommonSettings

__all__ = ["AuthSettings"]


class AuthSettings(CommonSettings, frozen=True, kw_only=True):
    production_secrets: ClassVar[frozenset[str]] = CommonSettings.production_secrets | {
        "jwt_private_key_file"
    }

    service: str = "auth"
    jwt_private_key_file: str = ""
    access_token_ttl_seconds: int = 900
    # A refresh token dies unused after this long (each rotation issues a fresh one)...
    refresh_token_ttl_seconds: int = 14 * 24 * 3600
    # ...and every token of a session (a rotation family) dies this long after the login,
    # however often it was rotated: then the user logs in again.
    refresh_family_max_age_seconds: int = 30 * 24 * 3600
    # argon2id cost; the defaults are argon2-cffi's (RFC 9106 "low memory" profile).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    # Credential endpoints (register, login, password change): per client and per account.
    auth_rate_limit: int = 5
    auth_rate_period_seconds: float = 60.0
    # Token endpoints (refresh, logout): per client; clients refresh often and legitimately.
    token_rate_limit: int = 30
    token_rate_period_seconds: float = 60.0
    deleted_account_retention_days: int = 30
    purge_interval_seconds: float = 3600.0
    # How often each instance checks that Redis still holds the revocation state (and
    # rewrites it from Postgres when Redis came back empty); other services refuse tokens
    # (503) in between.
    revocation_check_interval_seconds: float = 1.0
    # Bot accounts one user may own.
    bots_per_account: int = 25
