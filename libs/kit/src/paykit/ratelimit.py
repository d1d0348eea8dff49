"""Rate limits shared by every worker of a service: GCRA in Redis, one atomic script per request.

GCRA (the generic cell rate algorithm) is a token bucket kept as one timestamp per key, the
"theoretical arrival time" (TAT). A request is admitted when the TAT is no more than
``burst - 1`` intervals ahead of now, and pushes it one interval further. Unlike a fixed
window, there is no edge at which a client can spend two windows' worth at once, and unlike a
sliding log it costs one short key per client, expiring when the client has its burst back.
Redis's own clock decides "now", so every worker (and every host) agrees on it.

The answer carries what the ``RateLimit-*`` headers need: how many requests could be made at
once right now, and when the bucket is full again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import redis

__all__ = [
    "RateDecision",
    "RateLimit",
    "RateLimiterUnavailable",
    "RedisRateLimiter",
]

# KEYS[1] the client's key; ARGV[1] the interval (microseconds), ARGV[2] the burst (requests).
# Returns {admitted 0|1, remaining, microseconds until admitted, microseconds until full}.
_GCRA: Final = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allowed_from = new_tat - interval * burst
if allowed_from > now then
  return {0, 0, allowed_from - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
           'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allowed_from) / interval), 0, new_tat - now}
"""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``per_minute`` on average, with up to ``burst`` at once."""

    per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.burst < 1:
            raise ValueError("a rate limit needs a positive rate and burst")

    @property
    def interval_microseconds(self) -> int:
        """The time one request uses up; ``burst`` of them may be spent ahead."""
        return max(1, 60_000_000 // self.per_minute)

    @property
    def window_seconds(self) -> int:
        """How long an idle client takes to get its whole burst back."""
        return max(1, math.ceil(self.burst * self.interval_microseconds / 1_000_000))


@dataclass(frozen=True, slots=True)
class RateDecision:
    admitted: bool
    limit: RateLimit
    remaining: int
    retry_after_seconds: float
    reset_seconds: float

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` (IETF httpapi draft) on every answer, ``Retry-After`` on a refusal.

        ``RateLimit-Limit`` is the burst, the most a client can send at once; the policy header
        says how long it takes to refill.
        """
        headers = {
            "RateLimit-Limit": str(self.limit.burst),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(max(0, math.ceil(self.reset_seconds))),
            "RateLimit-Policy": f"{self.limit.burst};w={self.limit.window_seconds}",
        }
        if not self.admitted:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after_seconds)))
        return headers


class RateLimiterUnavailable(Exception):
    """Redis did not answer: the caller decides whether that admits (fail open) or refuses."""


class RedisRateLimiter:
    def __init__(self, client: redis.Redis, *, key_prefix: str) -> None:
        self._key_prefix = key_prefix
        self._script = client.register_script(_GCRA)

    def check(self, key: str, limit: RateLimit) -> RateDecision:
        """Spend one request of ``key``'s allowance, if there is one left."""
        try:
            admitted, remaining, wait_us, reset_us = self._script(
                keys=[self._key_prefix + key],
                args=[limit.interval_microseconds, limit.burst],
            )
        except redis.RedisError as error:
            raise RateLimiterUnavailable(type(error).__name__) from error
        return RateDecision(
            admitted=bool(admitted),
            limit=limit,
            remaining=int(remaining),
            retry_after_seconds=int(wait_us) / 1_000_000,
            reset_seconds=int(reset_us) / 1_000_000,
        )
