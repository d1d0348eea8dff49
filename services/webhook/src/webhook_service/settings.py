"""The webhook service's configuration: one frozen object per process, read from the environment.

Web and relay processes need different things, so each has its own settings and neither fails
for want of a variable only the other uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from paykit.auth.webhook_signature import DEFAULT_TOLERANCE_SECONDS
from paykit.settings import Env, Secret, load_settings

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
DEFAULT_MAX_JSON_DEPTH: Final = 8
DEFAULT_ADMIN_SCOPE: Final = "webhooks:admin"
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
    auth_audience: str
    auth_jwks_path: Path
    redis_url: Secret | None = None
    db_pool_size: int = 10
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    replay_cache_ttl_seconds: int = 24 * 3600
    admin_scope: str = DEFAULT_ADMIN_SCOPE
    log: LogSettings = field(default_factory=LogSettings)


@dataclass(frozen=True)
class RelaySettings:
    database_url: Secret
    kafka_bootstrap_servers: str
    metrics_port: int | None = None
    liveness_file: Path | None = None
    log: LogSettings = field(default_factory=LogSettings)


def load_web_settings(environ: Mapping[str, str] | None = None) -> WebhookSettings:
    return load_settings(_web, environ)


def load_relay_settings(environ: Mapping[str, str] | None = None) -> RelaySettings:
    return load_settings(_relay, environ)


def _web(env: Env) -> WebhookSettings:
    return WebhookSettings(
        database_url=env.secret("WEBHOOK_DATABASE_URL"),
        psp_webhook_secrets=env.secret_list("PSP_WEBHOOK_SECRETS"),
        auth_issuer=env.str("AUTH_ISSUER"),
        auth_audience=env.str("AUTH_AUDIENCE"),
        auth_jwks_path=Path(env.str("AUTH_JWKS_PATH")),
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
        log=_log(env),
    )


def _relay(env: Env) -> RelaySettings:
    liveness_file = env.str("WEBHOOK_RELAY_LIVENESS_FILE", default=None)
    return RelaySettings(
        database_url=env.secret("WEBHOOK_DATABASE_URL"),
        kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS"),
        metrics_port=env.int("WEBHOOK_RELAY_METRICS_PORT", default=None, min=1, max=65535),
        liveness_file=None if liveness_file is None else Path(liveness_file),
        log=_log(env),
    )


def _log(env: Env) -> LogSettings:
    return LogSettings(
        level=env.str("LOG_LEVEL", default="INFO", choices=LOG_LEVELS),
        json=env.str("LOG_FORMAT", default="json", choices={"json", "console"}) == "json",
    )
