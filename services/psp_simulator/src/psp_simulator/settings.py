"""Settings of the simulator's two processes, read once from the environment.

The web process and the webhook sender share the Redis settings; only the sender needs the
webhook URL and secrets, so only the sender refuses to start without them.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from paykit.auth.webhook_signature import MIN_SECRET_BYTES
from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings
from psp_simulator.adapters.redis_keys import KeySpace
from psp_simulator.domain.delivery import RetryPolicy
from psp_simulator.domain.faults import MAX_LATENCY_MS, NO_FAULTS, Faults
from psp_simulator.domain.outcomes import Timings
from psp_simulator.domain.webhooks import WebhookTarget

SERVICE_NAME: Final = "psp-simulator"
# A held-back response ties up a web thread for this long, so it is bounded.
MAX_RESPONSE_DELAY_SECONDS: Final = 300.0
DAY: Final = 86_400
# Delivery loops per sender process; each holds at most one HTTP request and one Redis
# connection at a time.
DEFAULT_SENDER_THREADS: Final = 4
MAX_SENDER_THREADS: Final = 64


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"
    json: bool = True


DEFAULT_TIMINGS: Final = Timings(
    outcome_delay=0.2,
    response_delay=30.0,
    slow_webhook_delay=5.0,
    late_webhook_delay=1.0,
    payout_delay=0.5,
)
# Where payout webhooks go unless told: beside the payment webhooks' endpoint.
PAYOUT_WEBHOOK_PATH: Final = "/payouts"
MAX_FEE_BPS: Final = 10_000
DEFAULT_RETRY: Final = RetryPolicy(
    base_seconds=1.0, cap_seconds=300.0, horizon_seconds=3600.0, jitter=0.2
)
DEFAULT_LOG: Final = LogSettings()


@dataclass(frozen=True, slots=True)
class SimulatorSettings:
    """The web process: charges, refunds, the admin API."""

    redis_url: Secret
    key_prefix: str = "psp"
    timings: Timings = DEFAULT_TIMINGS
    default_faults: Faults = NO_FAULTS
    retention_seconds: int = 7 * DAY
    report_fee_bps: int = 0
    log: LogSettings = DEFAULT_LOG


@dataclass(frozen=True, slots=True)
class SenderSettings:
    """The webhook sender."""

    redis_url: Secret
    webhook_url: str
    webhook_secrets: tuple[Secret, ...]
    key_prefix: str = "psp"
    retry: RetryPolicy = DEFAULT_RETRY
    http_timeout_seconds: float = 10.0
    poll_interval_seconds: float = 0.2
    payout_webhook_url: str | None = None
    sender_threads: int = DEFAULT_SENDER_THREADS
    log: LogSettings = DEFAULT_LOG

    def __post_init__(self) -> None:
        if not self.webhook_secrets:
            raise ValueError("at least one webhook secret is needed to sign with")
        if not 1 <= self.sender_threads <= MAX_SENDER_THREADS:
            raise ValueError(f"a sender runs 1 to {MAX_SENDER_THREADS} delivery loops")

    @property
    def signing_secret(self) -> Secret:
        """The first secret signs; the others are there for receivers rotating theirs."""
        return self.webhook_secrets[0]

    @property
    def webhook_urls(self) -> dict[WebhookTarget, str]:
        payouts = self.payout_webhook_url or self.webhook_url.rstrip("/") + PAYOUT_WEBHOOK_PATH
        return {WebhookTarget.PAYMENTS: self.webhook_url, WebhookTarget.PAYOUTS: payouts}

    @property
    def lease_seconds(self) -> float:
        """Longer than any one attempt can take (connect, write, read, pool wait), with room."""
        return 4 * self.http_timeout_seconds + 5.0


def load_simulator_settings(environ: Mapping[str, str] | None = None) -> SimulatorSettings:
    return load_settings(_build_simulator, environ)


def load_sender_settings(environ: Mapping[str, str] | None = None) -> SenderSettings:
    return load_settings(_build_sender, environ)


def _build_simulator(env: Env) -> SimulatorSettings:
    numbers = _Numbers(env)
    settings = SimulatorSettings(
        redis_url=env.secret("REDIS_URL"),
        key_prefix=_key_prefix(env, numbers),
        timings=Timings(
            outcome_delay=numbers.seconds(
                "PSP_OUTCOME_DELAY_SECONDS", DEFAULT_TIMINGS.outcome_delay
            ),
            response_delay=numbers.seconds(
                "PSP_TIMEOUT_DELAY_SECONDS",
                DEFAULT_TIMINGS.response_delay,
                maximum=MAX_RESPONSE_DELAY_SECONDS,
            ),
            slow_webhook_delay=numbers.seconds(
                "PSP_SLOW_WEBHOOK_DELAY_SECONDS", DEFAULT_TIMINGS.slow_webhook_delay
            ),
            late_webhook_delay=numbers.seconds(
                "PSP_LATE_WEBHOOK_DELAY_SECONDS", DEFAULT_TIMINGS.late_webhook_delay
            ),
            payout_delay=numbers.seconds(
                "PSP_PAYOUT_DELAY_SECONDS",
                DEFAULT_TIMINGS.payout_delay,
                maximum=MAX_RESPONSE_DELAY_SECONDS,
            ),
        ),
        default_faults=Faults(
            latency_ms=env.int("PSP_FAULT_LATENCY_MS", 0, min=0, max=MAX_LATENCY_MS),
            error_rate=numbers.fraction("PSP_FAULT_ERROR_RATE", 0.0),
            down=env.bool("PSP_FAULT_DOWN", False),
        ),
        retention_seconds=env.int("PSP_RETENTION_SECONDS", 7 * DAY, min=3600),
        report_fee_bps=env.int("PSP_REPORT_FEE_BPS", 0, min=0, max=MAX_FEE_BPS),
        log=_log_settings(env),
    )
    numbers.raise_for_problems()
    return settings


def _build_sender(env: Env) -> SenderSettings:
    numbers = _Numbers(env)
    webhook_url = env.str("PSP_WEBHOOK_URL")
    if webhook_url and not _is_http_url(webhook_url):
        numbers.problem("PSP_WEBHOOK_URL", "must be an http:// or https:// URL")
    payout_webhook_url = env.str("PSP_PAYOUT_WEBHOOK_URL", None) or None
    if payout_webhook_url and not _is_http_url(payout_webhook_url):
        numbers.problem("PSP_PAYOUT_WEBHOOK_URL", "must be an http:// or https:// URL")
    base = numbers.seconds(
        "PSP_WEBHOOK_RETRY_BASE_SECONDS", DEFAULT_RETRY.base_seconds, minimum=0.001
    )
    cap = numbers.seconds("PSP_WEBHOOK_RETRY_CAP_SECONDS", DEFAULT_RETRY.cap_seconds, minimum=0.001)
    if cap < base:
        numbers.problem("PSP_WEBHOOK_RETRY_CAP_SECONDS", "must be at least the retry base")
        cap = base
    settings = SenderSettings(
        redis_url=env.secret("REDIS_URL"),
        webhook_url=webhook_url,
        # A stand-in keeps construction going when the variable is missing; the missing
        # variable is what gets reported.
        webhook_secrets=env.signing_secrets("PSP_WEBHOOK_SECRETS", min_bytes=MIN_SECRET_BYTES)
        or (Secret("unset"),),
        key_prefix=_key_prefix(env, numbers),
        retry=RetryPolicy(
            base_seconds=base,
            cap_seconds=cap,
            horizon_seconds=numbers.seconds(
                "PSP_WEBHOOK_RETRY_HORIZON_SECONDS", DEFAULT_RETRY.horizon_seconds
            ),
            jitter=numbers.fraction("PSP_WEBHOOK_RETRY_JITTER", DEFAULT_RETRY.jitter),
        ),
        http_timeout_seconds=numbers.seconds("PSP_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.01),
        poll_interval_seconds=numbers.seconds("PSP_SENDER_POLL_SECONDS", 0.2, minimum=0.01),
        payout_webhook_url=payout_webhook_url,
        sender_threads=env.int(
            "PSP_SENDER_THREADS", DEFAULT_SENDER_THREADS, min=1, max=MAX_SENDER_THREADS
        ),
        log=_log_settings(env),
    )
    numbers.raise_for_problems()
    return settings


def _key_prefix(env: Env, numbers: "_Numbers") -> str:
    prefix = env.str("PSP_KEY_PREFIX", "psp")
    try:
        KeySpace(prefix)
    except ValueError:
        numbers.problem("PSP_KEY_PREFIX", "must be letters, digits, _ . : - (at most 64)")
        return "psp"
    return prefix


def _log_settings(env: Env) -> LogSettings:
    return LogSettings(
        level=env.str("LOG_LEVEL", "INFO", choices={"DEBUG", "INFO", "WARNING", "ERROR"}),
        json=env.str("LOG_FORMAT", "json", choices={"json", "console"}) == "json",
    )


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


class _Numbers:
    """Reads decimal values, which `Env` does not, reporting problems the way it does."""

    def __init__(self, env: Env) -> None:
        self._env = env
        self._problems: list[ConfigProblem] = []

    def seconds(
        self, name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None
    ) -> float:
        return self._decimal(name, default, minimum, maximum)

    def fraction(self, name: str, default: float) -> float:
        return self._decimal(name, default, 0.0, 1.0)

    def problem(self, name: str, message: str) -> None:
        self._problems.append(ConfigProblem(name, message))

    def raise_for_problems(self) -> None:
        if self._problems:
            raise ConfigError(*self._problems)

    def _decimal(self, name: str, default: float, minimum: float, maximum: float | None) -> float:
        raw = self._env.str(name, None)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.problem(name, f"must be a number; got {raw!r}")
            return default
        if value < minimum:
            self.problem(name, f"must be at least {minimum:g}; got {raw}")
            return default
        if maximum is not None and value > maximum:
            self.problem(name, f"must be at most {maximum:g}; got {raw}")
            return default
        return value
