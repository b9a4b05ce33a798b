"""Redis-backed, atomic rate limits (GCRA) with the standard response headers.

GCRA keeps one timestamp per key ("theoretical arrival time") and decides in one Lua call, so
it is exact across any number of replicas sharing Redis, costs one key per client, and lets a
client spend its whole burst at once and then one request every ``period / limit``. The clock
is Redis's own (``TIME``), so replicas with skewed clocks still agree.

Litestar's RateLimitMiddleware keys by client only and is not atomic across replicas, which is
why this exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope
from redis.asyncio import Redis

from .errors import RateLimited

__all__ = [
    "GCRA_FUNCTION",
    "Decision",
    "RateLimit",
    "RateLimiter",
    "add_rate_limit_headers",
    "limit_request",
    "record_decision",
]

_STATE_KEY = "harmoniq_rate_limit"

# GCRA as a Lua function, so a script of another module can make a hit in the same call
# (access.py: revocation, the send limit and the access cache in one round trip). Arguments:
# the key, emission interval (ms), burst tolerance (ms), cost.
# Returns {allowed, remaining, reset_ms, retry_after_ms}.
GCRA_FUNCTION = """
local function gcra(key, interval, tolerance, cost)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  local allow_at = new_tat - tolerance - interval
  if allow_at > now then
    local remaining = math.floor((tolerance + interval - (tat - now)) / interval)
    if remaining < 0 then remaining = 0 end
    return {0, remaining, tat - now, allow_at - now}
  end
  redis.call('SET', key, new_tat, 'PX', new_tat - now)
  local remaining = math.floor((tolerance + interval - (new_tat - now)) / interval)
  return {1, remaining, new_tat - now, 0}
end
"""
# KEYS[1]=key; ARGV: emission interval (ms), burst tolerance (ms), cost.
_GCRA = (
    GCRA_FUNCTION + "return gcra(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))"
)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``limit`` requests per ``period_seconds``, all of which may come at once."""

    name: str
    limit: int
    period_seconds: float

    @property
    def interval_ms(self) -> int:
        return max(1, round(self.period_seconds * 1000 / self.limit))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after_seconds: float

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_seconds)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return headers


class RateLimiter:
    def __init__(self, redis: Redis, namespace: str) -> None:
        self._redis = redis
        self._prefix = f"{namespace}:rl:"
        self._script = redis.register_script(_GCRA)

    async def hit(self, rule: RateLimit, key: str, cost: int = 1) -> Decision:
        redis_key, *args = self.gcra_arguments(rule, key, cost)
        found = await self._script(keys=[redis_key], args=args)
        return self.decision(rule, found)

    def gcra_arguments(self, rule: RateLimit, key: str, cost: int = 1) -> tuple[str, int, int, int]:
        """What :data:`GCRA_FUNCTION` takes for this hit: Redis key, interval, tolerance, cost."""
        interval = rule.interval_ms
        return f"{self._prefix}{rule.name}:{key}", interval, interval * (rule.limit - 1), cost

    def decision(self, rule: RateLimit, found: Any) -> Decision:
        """A decision from what :data:`GCRA_FUNCTION` returned."""
        allowed, remaining, reset_ms, retry_ms = found
        return Decision(
            allowed=bool(allowed),
            limit=rule.limit,
            remaining=int(remaining),
            reset_seconds=int(reset_ms) / 1000,
            retry_after_seconds=int(retry_ms) / 1000,
        )

    async def enforce(self, rule: RateLimit, *keys: str) -> Decision:
        """Hit every key (client, account…); raise 429 on the first that is exhausted.

        Returns the most restrictive decision so its headers can go on the response.
        """
        tightest: Decision | None = None
        for key in keys:
            decision = await self.hit(rule, key)
            if not decision.allowed:
                raise RateLimited(headers=decision.headers())
            if tightest is None or decision.remaining < tightest.remaining:
                tightest = decision
        assert tightest is not None
        return tightest


async def limit_request(
    connection: ASGIConnection[Any, Any, Any, Any],
    limiter: RateLimiter,
    rule: RateLimit,
    *keys: str,
) -> Decision:
    """Enforce ``rule`` for this request; its headers go on whatever response follows.

    The decision is kept in the request scope and :func:`add_rate_limit_headers` writes it, so
    a handler that then fails (401, 409…) still tells the client where it stands.
    """
    decision = await limiter.enforce(rule, *keys)
    record_decision(connection, decision)
    return decision


def record_decision(connection: ASGIConnection[Any, Any, Any, Any], decision: Decision) -> None:
    """Keep a decision made elsewhere (a pipelined hit) for the response's headers; raise
    429 when it refuses."""
    if not decision.allowed:
        raise RateLimited(headers=decision.headers())
    previous: Decision | None = connection.scope["state"].get(_STATE_KEY)
    if previous is None or decision.remaining < previous.remaining:
        connection.scope["state"][_STATE_KEY] = decision


async def add_rate_limit_headers(message: Message, scope: Scope) -> None:
    """Litestar ``before_send`` hook."""
    if message["type"] != "http.response.start":
        return
    decision: Decision | None = scope.get("state", {}).get(_STATE_KEY)
    if decision is None:
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in decision.headers().items():
        if name not in headers:
            headers[name] = value
