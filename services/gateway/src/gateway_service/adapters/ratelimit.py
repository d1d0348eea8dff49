"""Per-merchant rate limits of the public API: one GCRA bucket per merchant and route class.

Built in ``create_app`` from the edge settings and the gateway's Redis client::

    limits = MerchantRateLimits.from_settings(edge_settings, redis_client)

and handed to ``proxy_blueprint``. Every gateway worker shares the buckets through Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final

import redis

from gateway_service.edge_settings import EdgeSettings, WhenLimiterDown
from gateway_service.openapi.operations import RouteClass
from paykit.logging import get_logger
from paykit.problems import Problem
from paykit.ratelimit import RateDecision, RateLimit, RateLimiterUnavailable, RedisRateLimiter

KEY_PREFIX: Final = "gateway:ratelimit:"
# After Redis fails, it is not asked again for this long: an outage must not add a connect
# timeout (and the client's retries) to every request.
OUTAGE_BACKOFF_SECONDS: Final = 1.0

_log = get_logger(__name__)


class MerchantRateLimits:
    def __init__(
        self,
        limiter: RedisRateLimiter,
        limits: Mapping[RouteClass, RateLimit],
        when_down: WhenLimiterDown,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limiter = limiter
        self._limits = dict(limits)
        self._when_down = when_down
        self._clock = clock
        self._skip_redis_until = 0.0

    @classmethod
    def from_settings(cls, settings: EdgeSettings, client: redis.Redis) -> MerchantRateLimits:
        return cls(
            RedisRateLimiter(client, key_prefix=KEY_PREFIX),
            {RouteClass.WRITE: settings.write_limit, RouteClass.READ: settings.read_limit},
            settings.when_limiter_down,
        )

    def spend(self, merchant_id: str, route_class: RouteClass) -> RateDecision | None:
        """The admitted decision (for its headers), ``None`` when admitted without Redis, or a
        429 / 503 problem."""
        if self._clock() < self._skip_redis_until:
            return self._without_redis()
        try:
            decision = self._limiter.check(
                f"{route_class.value}:{merchant_id}", self._limits[route_class]
            )
        except RateLimiterUnavailable as error:
            _log.warning("rate_limiter_unavailable", error=str(error), mode=self._when_down.value)
            self._skip_redis_until = self._clock() + OUTAGE_BACKOFF_SECONDS
            return self._without_redis()
        if not decision.admitted:
            raise Problem(
                429,
                "rate_limited",
                detail=f"Too many {route_class.value} requests; retry after the Retry-After delay.",
                headers=decision.headers(),
            )
        return decision

    def _without_redis(self) -> RateDecision | None:
        if self._when_down is WhenLimiterDown.ADMIT:
            return None
        raise Problem(
            503,
            "rate_limiter_unavailable",
            detail="The gateway cannot check your rate limit right now; retry shortly.",
            headers={"Retry-After": "1"},
        )
