"""Access-token verification with the public key only, revocation, and the request principal.

Access tokens are EdDSA (Ed25519) JWTs minted by the auth service. Every service verifies them
here: the algorithm is pinned (``alg=none`` and HS/RS confusion are refused before any key is
used), ``kid`` selects one of the configured public keys (rotation: publish the new key first,
then sign with it), and ``iss``/``aud``/``exp``/``iat`` are required.

Instant revocation is two Redis marks written by the auth service and read on every request:
``{ns}:auth:revoked_before:{user_id}`` (milliseconds; kills every token issued earlier: logout-all,
password change, deletion) and ``{ns}:auth:session_revoked:{session_id}`` (logout of one
session). Both are read with one MGET. If Redis cannot answer, the request is refused (503):
revocation that silently stops working is worse than an outage.

Bots authenticate with ``Authorization: Bot <bot id>.<secret>`` (and IDENTIFY with the same
``Bot …`` string). Auth keeps the SHA-256 of each bot's current token in Redis
(``{ns}:auth:bot:{bot_id}``), so every service checks one with one read; a reset or a deleted
bot replaces or removes the key and the old token is dead at once. The same fail-closed rule
applies, and both kinds of check also refuse while Redis lacks the complete revocation state
(see :class:`RevocationMarks`): Redis restarted empty must not bring logged-out tokens back.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from redis.asyncio import Redis
from redis.exceptions import RedisError

from .errors import ServiceUnavailable, Unauthorized
from .ids import Snowflake

__all__ = [
    "ALGORITHM",
    "REVOCATION_FUNCTION",
    "REVOCATION_IN_HANDLER",
    "AuthMiddleware",
    "BotTokens",
    "Principal",
    "RevocationMarks",
    "RevocationStateMissing",
    "TokenVerifier",
    "key_id",
    "load_public_keys",
]

ALGORITHM = "EdDSA"

# A route handler's ``opt`` key: its handler checks the caller's revocation itself, in the
# Redis call it makes anyway (messages' send: revocation, rate limit and access cache in one
# script), so the middleware checks the token but does not ask Redis. The handler must call
# :meth:`RevocationMarks.script_keys`' script before any other work; bots are always checked
# in full by the middleware (their check is their token's digest).
REVOCATION_IN_HANDLER = "harmoniq_revocation_in_handler"

# The revocation rule, written once, in Lua: :meth:`RevocationMarks.is_revoked` runs it alone,
# and a script of another module can call it in its own round trip (the send's). KEYS as
# :meth:`RevocationMarks.script_keys` orders them (an empty key: nothing to ask), the token's
# ``iat`` in ms. Returns -1 (no complete revocation state: refuse), 1 revoked, 0 not.
REVOCATION_FUNCTION = """
local function revoked(state_key, user_key, session_key, issued_at_ms)
  if state_key == '' then return 0 end
  if redis.call('EXISTS', state_key) == 0 then return -1 end
  local before = redis.call('GET', user_key)
  if before and tonumber(issued_at_ms) < tonumber(before) then return 1 end
  if session_key ~= '' and redis.call('EXISTS', session_key) == 1 then return 1 end
  return 0
end
"""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user (with the session the token belongs to) or a bot."""

    user_id: Snowflake
    kind: Literal["user", "bot"] = "user"
    session_id: Snowflake | None = None
    issued_at_ms: int = 0
    # False only on a route marked REVOCATION_IN_HANDLER: the handler asks it in its own Redis
    # call (:data:`REVOCATION_FUNCTION`), before it does anything else.
    revocation_checked: bool = True


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest()[:12]).decode().rstrip("=")


def load_public_keys(pem_text: str) -> dict[str, Ed25519PublicKey]:
    """Every Ed25519 public key in a PEM bundle, by key id (several during a rotation)."""
    keys: dict[str, Ed25519PublicKey] = {}
    marker = "-----END PUBLIC KEY-----"
    for block in pem_text.split(marker):
        if "-----BEGIN PUBLIC KEY-----" not in block:
            continue
        key = serialization.load_pem_public_key((block.strip() + "\n" + marker + "\n").encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("access-token keys must be Ed25519")
        keys[key_id(key)] = key
    if not keys:
        raise ValueError("no public key found")
    return keys


def load_public_keys_file(path: str | Path) -> dict[str, Ed25519PublicKey]:
    return load_public_keys(Path(path).read_text())


class RevocationStateMissing(ServiceUnavailable):
    """Redis holds no complete revocation state (it restarted empty, or auth has not loaded
    it yet): no token can be trusted until auth has rewritten it from Postgres."""

    def __init__(self) -> None:
        super().__init__(
            "token revocation state is being restored, try again shortly",
            headers={"Retry-After": "1"},
        )


class RevocationMarks:
    """The Redis marks that make revocation instant; written by auth, read by everyone.

    Redis may lose them (a restart without persistence, an eviction, a flush), and a missing
    mark reads like "not revoked". So auth also writes ``{ns}:auth:revocation_state`` after it
    has rewritten every mark and bot digest from Postgres, and readers check it in the same
    round trip: without it they refuse (503) rather than accept a logged-out token.
    """

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace
        self._revoked = redis.register_script(
            REVOCATION_FUNCTION + "return revoked(KEYS[1], KEYS[2], KEYS[3], ARGV[1])"
        )

    @property
    def state_key(self) -> str:
        return f"{self._ns}:auth:revocation_state"

    def _user_key(self, user_id: int) -> str:
        return f"{self._ns}:auth:revoked_before:{user_id}"

    def _session_key(self, session_id: int) -> str:
        return f"{self._ns}:auth:session_revoked:{session_id}"

    async def revoke_user(self, user_id: int, before_ms: int, ttl_seconds: int) -> None:
        # Marks only move forward: a slow writer must not resurrect newer revocations.
        await self._redis.eval(
            "local cur = tonumber(redis.call('GET', KEYS[1]) or '0') "
            "if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
            "elseif redis.call('TTL', KEYS[1]) < tonumber(ARGV[2]) then "
            "redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 1",
            1,
            self._user_key(user_id),
            before_ms,
            ttl_seconds,
        )

    async def revoke_session(self, session_id: int, ttl_seconds: int) -> None:
        await self._redis.set(self._session_key(session_id), 1, ex=ttl_seconds)

    async def begin_restore(self) -> str:
        """Before auth rewrites every mark: a token that :meth:`finish_restore` needs, so a
        Redis that restarts empty half-way through is not declared complete."""
        token = secrets.token_hex(8)
        await self._redis.set(self.state_key + ":restoring", token, ex=3600)
        return token

    async def finish_restore(self, token: str) -> bool:
        """Declare the state complete if this Redis saw the whole restore; whether it did."""
        done = await self._redis.eval(
            "if redis.call('GET', KEYS[2]) == ARGV[1] then "
            "redis.call('SET', KEYS[1], ARGV[2]) redis.call('DEL', KEYS[2]) return 1 end "
            "return 0",
            2,
            self.state_key,
            self.state_key + ":restoring",
            token,
            now_ms(),
        )
        return bool(done)

    async def complete(self) -> bool:
        """Whether Redis holds the complete revocation state; :class:`RedisError` propagates."""
        return bool(await self._redis.exists(self.state_key))

    def script_keys(self, principal: Principal) -> tuple[str, str, str]:
        """The keys :data:`REVOCATION_FUNCTION` reads for ``principal``; all empty when its
        revocation was already checked (a bot, or a route the middleware checked)."""
        if principal.revocation_checked:
            return "", "", ""
        return self._keys(principal.user_id, principal.session_id)

    def _keys(self, user_id: int, session_id: int | None) -> tuple[str, str, str]:
        session = "" if session_id is None else self._session_key(session_id)
        return self.state_key, self._user_key(user_id), session

    @staticmethod
    def raise_if_revoked(outcome: int) -> None:
        """Act on :data:`REVOCATION_FUNCTION`'s answer as :meth:`TokenVerifier.verify` does."""
        if outcome == -1:
            raise RevocationStateMissing()
        if outcome == 1:
            raise Unauthorized("access token revoked", code="token_revoked")

    async def is_revoked(self, user_id: int, session_id: int | None, issued_at_ms: int) -> bool:
        """Raises :class:`RevocationStateMissing` when the answer cannot be trusted."""
        outcome = await self._revoked(
            keys=list(self._keys(user_id, session_id)), args=[issued_at_ms]
        )
        if int(outcome) == -1:
            raise RevocationStateMissing()
        return int(outcome) == 1


class BotTokens:
    """Each bot's current token, as a digest in Redis: written by auth, read by everyone."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._ns = namespace
        self._state_key = RevocationMarks(redis, namespace).state_key

    def key(self, bot_id: int) -> str:
        return f"{self._ns}:auth:bot:{bot_id}"

    @staticmethod
    def digest(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    async def store(self, bot_id: int, digest: bytes) -> None:
        await self._redis.set(self.key(bot_id), digest.hex())

    async def forget(self, bot_id: int) -> None:
        await self._redis.delete(self.key(bot_id))

    async def verify(self, token: str) -> Principal:
        """The bot a ``<bot id>.<secret>`` token belongs to; :class:`Unauthorized` otherwise."""
        raw_id, _, secret = token.partition(".")
        try:
            bot_id = Snowflake.parse(raw_id)
        except ValueError:
            raise Unauthorized("malformed bot token", code="invalid_token") from None
        if not secret:
            raise Unauthorized("malformed bot token", code="invalid_token")
        try:
            # The digests are rewritten with the revocation marks: the same state key vouches.
            state, stored = await self._redis.mget([self._state_key, self.key(bot_id)])
        except RedisError as exc:
            raise ServiceUnavailable("cannot check the bot token right now") from exc
        if state is None:
            raise RevocationStateMissing()
        presented = self.digest(token).hex()
        expected = stored.decode() if isinstance(stored, bytes) else stored
        if expected is None or not hmac.compare_digest(presented, expected):
            raise Unauthorized("invalid bot token", code="invalid_token")
        return Principal(user_id=bot_id, kind="bot")


_CHECKED_TOKENS = 10_000  # verified access tokens remembered per process (about 10 MiB at most)


class TokenVerifier:
    def __init__(
        self,
        public_keys: dict[str, Ed25519PublicKey],
        marks: RevocationMarks,
        *,
        issuer: str,
        audience: str,
        leeway_seconds: float = 5.0,
        bots: BotTokens | None = None,
    ) -> None:
        self._keys = public_keys
        self._marks = marks
        self._bots = bots
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        # Tokens whose signature and claims were checked, until they expire: a client sends the
        # same token with every request, and the Ed25519 check and the JSON were ~5% of a
        # send's CPU (issue #15). Bounded; revocation is still asked on every request.
        self._checked: dict[str, dict[str, Any]] = {}

    def decode(self, token: str) -> dict[str, Any]:
        """Signature and claims only (no revocation check); raises :class:`Unauthorized`."""
        claims = self._checked.get(token)
        if claims is not None:
            if float(claims["exp"]) + self._leeway > time.time():
                return claims
            del self._checked[token]
        claims = self._decode(token)
        if len(self._checked) >= _CHECKED_TOKENS:
            self._checked.clear()
        self._checked[token] = claims
        return claims

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed access token", code="invalid_token") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("unsupported token algorithm", code="invalid_token")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise Unauthorized("unknown token key", code="invalid_token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("access token expired", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid access token", code="invalid_token") from exc
        if claims.get("typ") != "access":
            raise Unauthorized("not an access token", code="invalid_token")
        return claims

    def unchecked(self, token: str) -> Principal:
        """The token's principal, signature and claims checked but not revocation: for a
        handler that asks it itself (:data:`REVOCATION_IN_HANDLER`)."""
        return self._principal(token, revocation_checked=False)

    def _principal(self, token: str, *, revocation_checked: bool) -> Principal:
        claims = self.decode(token)
        try:
            return Principal(
                user_id=Snowflake.parse(claims["sub"]),
                session_id=Snowflake.parse(claims["sid"]),
                issued_at_ms=int(float(claims["iat"]) * 1000),
                revocation_checked=revocation_checked,
            )
        except (ValueError, TypeError) as exc:
            raise Unauthorized("invalid access token", code="invalid_token") from exc

    async def verify(self, token: str) -> Principal:
        principal = self._principal(token, revocation_checked=True)
        try:
            revoked = await self._marks.is_revoked(
                principal.user_id, principal.session_id, principal.issued_at_ms
            )
        except RedisError as exc:
            raise ServiceUnavailable("cannot check token revocation right now") from exc
        if revoked:
            raise Unauthorized("access token revoked", code="token_revoked")
        return principal

    async def verify_bot(self, token: str) -> Principal:
        if self._bots is None:
            raise Unauthorized("bot tokens are not accepted here", code="invalid_token")
        return await self._bots.verify(token)

    async def verify_credential(self, credential: str) -> Principal:
        """``Bot <token>`` for a bot, else a user's access token (the gateway's IDENTIFY)."""
        scheme, _, rest = credential.partition(" ")
        if scheme == "Bot" and rest.strip():
            return await self.verify_bot(rest.strip())
        return await self.verify(credential)


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """``Authorization: Bearer <jwt>`` (a user) or ``Bot <token>`` (a bot) on every route not
    marked ``exclude_from_auth``.

    Litestar's JWTAuth would accept any scheme word before the token; here the scheme decides.
    """

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        verifier: TokenVerifier = connection.app.state.platform.verifier
        scheme, _, rest = (header or "").partition(" ")
        if scheme.lower() == "bot" and rest.strip():
            return AuthenticationResult(user=await verifier.verify_bot(rest.strip()), auth=rest)
        token = bearer_token(header)
        if token is None:
            raise Unauthorized("missing bearer token")
        if connection.route_handler.opt.get(REVOCATION_IN_HANDLER):
            return AuthenticationResult(user=verifier.unchecked(token), auth=token)
        principal = await verifier.verify(token)
        return AuthenticationResult(user=principal, auth=token)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def exclude_patterns(extra: Iterable[str] = ()) -> list[str]:
    return ["^/health", "^/metrics", "^/schema", *extra]
