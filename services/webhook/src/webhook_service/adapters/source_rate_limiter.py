"""The per-source limit on unauthenticated requests, in Redis: one atomic script per request.

The algorithm is GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp):
each source has a "theoretical arrival time"; a request is admitted when that time is no more
than ``burst - 1`` intervals ahead of now, and pushes it one interval further. One key per
source, expiring when the source has been quiet long enough to have its full burst back, so
an idle source costs nothing. Redis's own clock is used, so every worker agrees on "now".
"""

from __future__ import annotations

from typing import Final

import redis

from paykit.logging import get_logger
from webhook_service.domain.rate_limits import (
    ADMITTED,
    UNAVAILABLE,
    Admission,
    AdmissionState,
    RateLimit,
)

KEY_PREFIX: Final = "webhook:unauthenticated:"

# KEYS[1] the source's key; ARGV[1] the interval and ARGV[2] the burst, in microseconds and
# requests. Returns {1, 0} when admitted, {0, microseconds until a request would be}.
_GCRA: Final = """
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local due = tonumber(redis.call('GET', KEYS[1])) or now
if due < now then due = now end
local wait = due - tolerance - now
if wait > 0 then return {0, wait} end
local next_due = due + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_due),
           'PX', math.ceil((next_due - now) / 1000) + 1)
return {1, 0}
"""

_log = get_logger(__name__)


class RedisSourceRateLimiter:
    def __init__(self, client: redis.Redis, limit: RateLimit) -> None:
        self._limit = limit
        self._script = client.register_script(_GCRA)

    def admit(self, source: str) -> Admission:
        try:
            admitted, wait_microseconds = self._script(
                keys=[KEY_PREFIX + source],
                args=[self._limit.interval_microseconds, self._limit.burst],
            )
        except redis.RedisError as error:
            _log.warning("rate_limiter_unavailable", error=type(error).__name__)
            return UNAVAILABLE
        if admitted:
            return ADMITTED
        return Admission(AdmissionState.LIMITED, int(wait_microseconds) / 1_000_000)


class NoSharedRateLimiter:
    """Used when no Redis is configured: nothing can bound what sources send, so nothing counts."""

    def admit(self, source: str) -> Admission:
        return UNAVAILABLE
