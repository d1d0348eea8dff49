"""What the gateway's public edge needs: where the services are, how long to wait, what to allow.

One frozen object read from the environment at start-up; a missing upstream address or a
malformed number stops the process with the variable's name (``paykit.settings``).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from paykit.ratelimit import RateLimit
from paykit.settings import ConfigError, ConfigProblem, Env, load_settings

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
# Writes create money movements, so they are scarcer than reads; both are per merchant.
DEFAULT_WRITE_LIMIT: Final = RateLimit(per_minute=300, burst=50)
DEFAULT_READ_LIMIT: Final = RateLimit(per_minute=1200, burst=200)


class WhenLimiterDown(enum.Enum):
    """What a request meets while Redis cannot be asked (see the gateway README, ## Edge)."""

    ADMIT = "open"
    REFUSE = "closed"


@dataclass(frozen=True)
class EdgeSettings:
    payment_url: str
    ledger_url: str
    settlement_url: str
    webhook_url: str
    connect_timeout_seconds: float = 2.0
    upstream_timeout_seconds: float = 10.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    write_limit: RateLimit = DEFAULT_WRITE_LIMIT
    read_limit: RateLimit = DEFAULT_READ_LIMIT
    when_limiter_down: WhenLimiterDown = WhenLimiterDown.ADMIT


def load(environ: Mapping[str, str] | None = None) -> EdgeSettings:
    return load_settings(_build, environ)


def _build(env: Env) -> EdgeSettings:
    return EdgeSettings(
        payment_url=_url(env, "PAYMENT_URL"),
        ledger_url=_url(env, "LEDGER_URL"),
        settlement_url=_url(env, "SETTLEMENT_URL"),
        webhook_url=_url(env, "WEBHOOK_URL"),
        connect_timeout_seconds=env.int("GATEWAY_UPSTREAM_CONNECT_TIMEOUT_MS", 2000, min=1) / 1000,
        upstream_timeout_seconds=env.int("GATEWAY_UPSTREAM_TIMEOUT_MS", 10_000, min=1) / 1000,
        max_body_bytes=env.int("GATEWAY_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, min=1),
        write_limit=_limit(env, "WRITES", DEFAULT_WRITE_LIMIT),
        read_limit=_limit(env, "READS", DEFAULT_READ_LIMIT),
        when_limiter_down=WhenLimiterDown(
            env.str(
                "GATEWAY_RATE_LIMIT_WHEN_REDIS_DOWN",
                WhenLimiterDown.ADMIT.value,
                choices=[mode.value for mode in WhenLimiterDown],
            )
        ),
    )


def _url(env: Env, name: str) -> str:
    value = env.str(name)
    if value and not value.startswith(("http://", "https://")):
        raise ConfigError(ConfigProblem(name, "must be an http:// or https:// URL"))
    return value.rstrip("/")


def _limit(env: Env, kind: str, default: RateLimit) -> RateLimit:
    return RateLimit(
        per_minute=env.int(f"GATEWAY_{kind}_PER_MINUTE", default.per_minute, min=1),
        burst=env.int(f"GATEWAY_{kind}_BURST", default.burst, min=1),
    )
