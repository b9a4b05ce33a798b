"""Settings of the voice service (``HARMONIQ_*``; see ``.env.example``)."""

from __future__ import annotations

from typing import ClassVar

import msgspec

from harmoniq_common.settings import CommonSettings

__all__ = ["VoiceSettings"]


class VoiceSettings(CommonSettings, frozen=True, kw_only=True):
    # coturn's static-auth-secret: HARMONIQ_ENV=production refuses to start without it.
    production_secrets: ClassVar[frozenset[str]] = CommonSettings.production_secrets | {
        "turn_secret"
    }
    service: str = "voice"
    # coturn's use-auth-secret scheme: username "<expiry>:<user id>", password
    # base64(HMAC-SHA1(turn_secret, username)), valid for turn_credential_ttl_seconds.
    turn_secret: str = ""
    turn_credential_ttl_seconds: int = 86_400
    # What clients are told (ice-servers) and what the doctor checks; the first turn: URL is
    # the one the doctor allocates on.
    turn_urls: list[str] = msgspec.field(
        default_factory=lambda: ["turn:127.0.0.1:3478?transport=udp"]
    )
    stun_urls: list[str] = msgspec.field(default_factory=lambda: ["stun:127.0.0.1:3478"])
    # Where the doctor reaches the TURN server from this service (empty: the first turn: URL
    # of turn_urls); in compose the service reaches coturn by its service name.
    turn_doctor_url: str = ""
    # A voice state lives this long without its gateway renewing it (a dead gateway's users
    # leave voice within it); the sweep looks for expired ones this often.
    state_ttl_seconds: float = 10.0
    sweep_interval_seconds: float = 1.0
    # Peers per voice channel in the mesh (each sends its media to every other): the most a
    # channel holds whatever its own user limit (MOVE_MEMBERS included) (docs/decisions.md).
    mesh_limit: int = 8
    # Doctor runs per user per period (each allocates a relay on the TURN server).
    doctor_rate_limit: int = 6
    doctor_rate_period_seconds: float = 60.0
    doctor_timeout_seconds: float = 3.0
