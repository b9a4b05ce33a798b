"""The voice doctor: does the TURN server answer, accept our credentials, allocate a relay?

Self-hosters lose days to TURN: a firewall drops UDP 3478, the secret in coturn differs from
ours, a clock runs a day ahead, the relay port range is closed or exhausted. The doctor mints
credentials exactly as clients get them and walks the steps a client's ICE agent would take,
stopping at the first that fails, and says in plain words what that failure means.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import msgspec

from ..settings import VoiceSettings
from .stun import StunError, TurnClient, Unreachable
from .turn import mint

__all__ = ["Doctor", "DoctorCheck", "DoctorReport", "turn_endpoint"]

# The doctor's own credentials live this long: long enough for one run, short enough that a
# TURN server whose clock is ahead by more than this refuses them (and the longer-lived ones
# clients get still pass: the difference is the clock-skew diagnosis).
_SHORT_TTL_SECONDS = 120


class DoctorCheck(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # "configured" | "reachable" | "credentials" | "relay"
    ok: bool
    detail: str


class DoctorReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    server: str  # the TURN URL checked
    diagnosis: str  # one plain sentence: what is wrong, or that all is well
    checks: list[DoctorCheck]
    relay_address: str | None = None
    took_ms: int = 0


def turn_endpoint(url: str) -> tuple[str, int, str]:
    """``turn:host:port?transport=udp`` -> (host, port, transport)."""
    parts = urlsplit(url.replace("turn:", "turn://", 1).replace("turns:", "turns://", 1))
    if parts.scheme not in ("turn", "turns") or not parts.hostname:
        raise ValueError(f"not a turn: URL: {url!r}")
    transport = parse_qs(parts.query).get("transport", ["udp"])[0]
    return parts.hostname, parts.port or (5349 if parts.scheme == "turns" else 3478), transport


class Doctor:
    def __init__(self, settings: VoiceSettings) -> None:
        self._settings = settings

    async def run(self, user_id: int = 0) -> DoctorReport:
        began = time.monotonic()
        checks: list[DoctorCheck] = []
        url = self._settings.turn_doctor_url or next(
            (u for u in self._settings.turn_urls if u.startswith("turn:")), ""
        )
        diagnosis, relay = await self._walk(url, user_id, checks)
        return DoctorReport(
            ok=all(c.ok for c in checks) and relay is not None,
            server=url,
            diagnosis=diagnosis,
            checks=checks,
            relay_address=relay,
            took_ms=round((time.monotonic() - began) * 1000),
        )

    async def _walk(
        self, url: str, user_id: int, checks: list[DoctorCheck]
    ) -> tuple[str, str | None]:
        settings = self._settings
        if not url or not settings.turn_secret:
            checks.append(DoctorCheck(name="configured", ok=False, detail="no turn: URL or secret"))
            return (
                "TURN is not configured: set HARMONIQ_TURN_URLS and HARMONIQ_TURN_SECRET"
                " (the same secret as coturn's static-auth-secret).",
                None,
            )
        host, port, transport = turn_endpoint(url)
        checks.append(DoctorCheck(name="configured", ok=True, detail=url))
        try:
            async with TurnClient(host, port, transport, settings.doctor_timeout_seconds) as turn:
                mapped = await turn.binding()
                checks.append(
                    DoctorCheck(name="reachable", ok=True, detail=f"it sees us as {mapped}")
                )
                return await self._allocate(turn, user_id, checks)
        except Unreachable as exc:
            checks.append(DoctorCheck(name="reachable", ok=False, detail=str(exc)))
            return (
                f"The TURN server at {host}:{port} ({transport.upper()}) does not answer: is"
                " coturn running, is the address right, and does the firewall let"
                f" {transport.upper()} {port} through?",
                None,
            )

    async def _allocate(
        self, turn: TurnClient, user_id: int, checks: list[DoctorCheck]
    ) -> tuple[str, str | None]:
        secret = self._settings.turn_secret
        short = mint(secret, user_id, _SHORT_TTL_SECONDS)
        try:
            relay = await turn.allocate(short.username, short.credential)
        except StunError as exc:
            if exc.code != 401:
                return self._refused(exc, checks)
            # Refused: a different secret, or a server clock far enough ahead that our
            # expiry is already past for it. Credentials as clients get them tell the two apart.
            long = mint(secret, user_id, self._settings.turn_credential_ttl_seconds)
            try:
                await turn.allocate(long.username, long.credential)
            except StunError:
                checks.append(DoctorCheck(name="credentials", ok=False, detail=str(exc)))
                return (
                    "The TURN server refuses our credentials: HARMONIQ_TURN_SECRET differs from"
                    " coturn's static-auth-secret (or coturn lacks use-auth-secret).",
                    None,
                )
            checks.append(
                DoctorCheck(name="credentials", ok=False, detail="short-lived ones refused")
            )
            return (
                "Clock skew: the TURN server's clock is more than"
                f" {_SHORT_TTL_SECONDS} s ahead of this service's, so credentials expire early"
                " for it (run NTP on both hosts).",
                None,
            )
        checks.append(DoctorCheck(name="credentials", ok=True, detail="accepted"))
        where = f"{relay[0]}:{relay[1]}"
        checks.append(DoctorCheck(name="relay", ok=True, detail=f"allocated {where}"))
        return f"TURN works: credentials accepted and a relay allocated at {where}.", where

    @staticmethod
    def _refused(exc: StunError, checks: list[DoctorCheck]) -> tuple[str, str | None]:
        checks.append(
            DoctorCheck(name="credentials", ok=exc.code not in (401, 403, 437), detail=str(exc))
        )
        if exc.code in (486, 508):
            checks.append(DoctorCheck(name="relay", ok=False, detail=str(exc)))
            return (
                f"No relay ports ({exc.code} {exc.reason}): coturn's relay range"
                " (min-port..max-port) is exhausted or cannot be bound, or the quota is reached.",
                None,
            )
        if exc.code == 403:
            return (f"The TURN server forbids allocations for us ({exc.reason}).", None)
        return (f"The TURN server refused the allocation: {exc.code} {exc.reason}.", None)
