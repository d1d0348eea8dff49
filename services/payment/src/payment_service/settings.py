"""The payment service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from payevents.topics import PAYMENT_EVENTS, WEBHOOK_EVENTS
from paykit.settings import Env, Secret, load_settings
from payment_service.adapters.psp import MAX_CONCURRENT_CALLS

CHARGER_GROUP = PAYMENT_EVENTS.consumers[0].name
STATUS_GROUP = WEBHOOK_EVENTS.consumers[0].name


@dataclass(frozen=True)
class PaymentSettings:
    database_url: Secret
    kafka_bootstrap_servers: str
    psp_url: str
    auth_issuer: str
    auth_audience: str
    auth_jwks_path: Path
    currencies: frozenset[str]
    max_amount: int
    max_metadata_keys: int
    idempotency_retention_hours: int
    idempotency_lock_timeout_ms: int
    psp_timeout_seconds: float
    charger_concurrency: int
    stuck_after_seconds: int
    recheck_max_delay_seconds: int
    janitor_interval_seconds: float
    charge_retry_delays: tuple[float, ...] | None
    metrics_port: int | None
    json_logs: bool


def _build(env: Env) -> PaymentSettings:
    charger_tiers = len(PAYMENT_EVENTS.consumer(CHARGER_GROUP).retry_delays)
    return PaymentSettings(
        database_url=env.secret("PAYMENT_DATABASE_URL"),
        kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS"),
        psp_url=env.str("PSP_URL"),
        auth_issuer=env.str("AUTH_ISSUER"),
        auth_audience=env.str("AUTH_AUDIENCE"),
        auth_jwks_path=Path(env.str("AUTH_JWKS_PATH")),
        currencies=frozenset(env.list("PAYMENT_CURRENCIES", ("EUR", "USD", "GBP"))),
        max_amount=env.int("PAYMENT_MAX_AMOUNT", 100_000_000, min=1),
        max_metadata_keys=env.int("PAYMENT_MAX_METADATA_KEYS", 20, min=0, max=50),
        idempotency_retention_hours=env.int("PAYMENT_IDEMPOTENCY_RETENTION_HOURS", 24, min=24),
        idempotency_lock_timeout_ms=env.int("PAYMENT_IDEMPOTENCY_LOCK_TIMEOUT_MS", 5000, min=1),
        psp_timeout_seconds=env.int("PAYMENT_PSP_TIMEOUT_SECONDS", 10, min=1),
        # handlers at once, each on a PSP connection of its own: at most what the client keeps
        charger_concurrency=env.int(
            "PAYMENT_CHARGER_CONCURRENCY", 8, min=1, max=MAX_CONCURRENT_CALLS
        ),
        stuck_after_seconds=env.int("PAYMENT_STUCK_AFTER_SECONDS", 300, min=1),
        recheck_max_delay_seconds=env.int("PAYMENT_RECHECK_MAX_DELAY_SECONDS", 3600, min=1),
        janitor_interval_seconds=env.int("PAYMENT_JANITOR_INTERVAL_SECONDS", 30, min=1),
        charge_retry_delays=env.delays("PAYMENT_CHARGE_RETRY_DELAYS", at_most=charger_tiers),
        metrics_port=env.int("PAYMENT_METRICS_PORT", None),
        json_logs=env.bool("PAYMENT_JSON_LOGS", True),
    )


def load(environ: Mapping[str, str] | None = None) -> PaymentSettings:
    return load_settings(_build, environ)
