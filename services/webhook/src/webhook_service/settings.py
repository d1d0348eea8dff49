"""The webhook service's configuration: one frozen object per process, read from the environment.

Web and relay processes need different things, so each has its own settings and neither fails
for want of a variable only the other uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final

from paykit.auth.audiences import ADMIN_AUDIENCE, PAYMENTS_API_AUDIENCE, WEBHOOKS_ADMIN_SCOPE
from paykit.auth.webhook_signature import DEFAULT_TOLERANCE_SECONDS, MIN_SECRET_BYTES
from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings
from webhook_service.domain.rate_limits import RateLimit
from webhook_service.outbound_settings import OutboundTrust, outbound_trust
from webhook_service.service_layer.retention import DEFAULT_REJECTED_RETENTION, RetentionPolicy

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
DEFAULT_MAX_JSON_DEPTH: Final = 8
DEFAULT_ADMIN_SCOPE: Final = WEBHOOKS_ADMIN_SCOPE
# Far above what a misconfigured PSP needs to be diagnosed, far below what fills a disk.
DEFAULT_UNAUTHENTICATED_LIMIT: Final = RateLimit(per_minute=60, burst=20)
DEFAULT_PRUNE_INTERVAL_SECONDS: Final = 600
LOG_LEVELS: Final = frozenset({"DEBUG", "INFO", "WARNING", "ERROR"})


@dataclass(frozen=True)
class LogSettings:
    level: str = "INFO"
    json: bool = True


@dataclass(frozen=True)
class WebhookSettings:
    database_url: Secret
    psp_webhook_secrets: tuple[Secret, ...]
    auth_issuer: str
    auth_jwks_path: Path
    admin_audience: str = ADMIN_AUDIENCE
    redis_url: Secret | None = None
    db_pool_size: int = 10
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    replay_cache_ttl_seconds: int = 24 * 3600
    admin_scope: str = DEFAULT_ADMIN_SCOPE
    unauthenticated_limit: RateLimit = DEFAULT_UNAUTHENTICATED_LIMIT
    # merchants' endpoints API: their payment-API tokens, and where their URLs may point
    merchant_audience: str = PAYMENTS_API_AUDIENCE
    outbound: OutboundTrust = field(default_factory=OutboundTrust)
    log: LogSettings = field(default_factory=LogSettings)


@dataclass(frozen=True)
class RelaySettings:
    database_url: Secret
    kafka_bootstrap_servers: str
    metrics_port: int | None = None
    liveness_file: Path | None = None
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    prune_interval_seconds: int = DEFAULT_PRUNE_INTERVAL_SECONDS
    log: LogSettings = field(default_factory=LogSettings)


def load_web_settings(environ: Mapping[str, str] | None = None) -> WebhookSettings:
    return load_settings(_web, environ)


def load_relay_settings(environ: Mapping[str, str] | None = None) -> RelaySettings:
    return load_settings(_relay, environ)


def _web(env: Env) -> WebhookSettings:
    problems: list[ConfigProblem] = []  # rules across values, reported with the others
    settings = WebhookSettings(
        database_url=env.secret("WEBHOOK_DATABASE_URL"),
        psp_webhook_secrets=env.signing_secrets("PSP_WEBHOOK_SECRETS", min_bytes=MIN_SECRET_BYTES),
        auth_issuer=env.str("AUTH_ISSUER"),
        auth_jwks_path=Path(env.str("AUTH_JWKS_PATH")),
        admin_audience=_admin_audience(env, problems),
        redis_url=env.secret("REDIS_URL", default=None),
        db_pool_size=env.int("WEBHOOK_DB_POOL_SIZE", default=10, min=1, max=100),
        tolerance_seconds=env.int(
            "WEBHOOK_TOLERANCE_SECONDS", default=DEFAULT_TOLERANCE_SECONDS, min=1, max=3600
        ),
        max_body_bytes=env.int(
            "WEBHOOK_MAX_BODY_BYTES", default=DEFAULT_MAX_BODY_BYTES, min=1024, max=1024 * 1024
        ),
        max_json_depth=env.int(
            "WEBHOOK_MAX_JSON_DEPTH", default=DEFAULT_MAX_JSON_DEPTH, min=2, max=64
        ),
        replay_cache_ttl_seconds=env.int(
            "WEBHOOK_REPLAY_CACHE_TTL_SECONDS", default=24 * 3600, min=60
        ),
        admin_scope=env.str("WEBHOOK_ADMIN_SCOPE", default=DEFAULT_ADMIN_SCOPE),
        unauthenticated_limit=RateLimit(
            per_minute=env.int(
                "WEBHOOK_UNAUTHENTICATED_PER_MINUTE",
                default=DEFAULT_UNAUTHENTICATED_LIMIT.per_minute,
                min=1,
                max=60_000,
            ),
            burst=env.int(
                "WEBHOOK_UNAUTHENTICATED_BURST",
                default=DEFAULT_UNAUTHENTICATED_LIMIT.burst,
                min=1,
                max=10_000,
            ),
        ),
        merchant_audience=env.str("AUTH_AUDIENCE", default=PAYMENTS_API_AUDIENCE),
        outbound=outbound_trust(env, problems),
        log=_log(env),
    )
    if problems:
        raise ConfigError(*problems)
    return settings


def _admin_audience(env: Env, problems: list[ConfigProblem]) -> str:
    """The admin API's own audience: a token for the payment API must not open it."""
    name = "AUTH_ADMIN_AUDIENCE"
    audience = env.str(name, default=ADMIN_AUDIENCE)
    payment_api = {PAYMENTS_API_AUDIENCE, env.str("AUTH_AUDIENCE", default=PAYMENTS_API_AUDIENCE)}
    if audience in payment_api:
        problems.append(
            ConfigProblem(name, f"must differ from the payment API's audience {audience!r}")
        )
    return audience


def _relay(env: Env) -> RelaySettings:
    liveness_file = env.str("WEBHOOK_RELAY_LIVENESS_FILE", default=None)
    return RelaySettings(
        database_url=env.secret("WEBHOOK_DATABASE_URL"),
        kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS"),
        metrics_port=env.int("WEBHOOK_RELAY_METRICS_PORT", default=None, min=1, max=65535),
        liveness_file=None if liveness_file is None else Path(liveness_file),
        retention=RetentionPolicy(
            rejected_for=timedelta(
                hours=env.int(
                    "WEBHOOK_REJECTED_RETENTION_HOURS",
                    default=int(DEFAULT_REJECTED_RETENTION.total_seconds()) // 3600,
                    min=1,
                    max=24 * 366,
                )
            )
        ),
        prune_interval_seconds=env.int(
            "WEBHOOK_PRUNE_INTERVAL_SECONDS",
            default=DEFAULT_PRUNE_INTERVAL_SECONDS,
            min=1,
            max=24 * 3600,
        ),
        log=_log(env),
    )


def _log(env: Env) -> LogSettings:
    return LogSettings(
        level=env.str("LOG_LEVEL", default="INFO", choices=LOG_LEVELS),
        json=env.str("LOG_FORMAT", default="json", choices={"json", "console"}) == "json",
    )
