"""Configuration of outbound merchant webhooks: what the web process and the workers share.

The web process needs the target policy (to refuse a URL at registration) and the secrets key
(to seal a new secret); the dispatcher needs both plus its bounds; the notifiers need only the
database and Kafka. Each process reads what it uses and fails fast on a bad value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings
from webhook_service.adapters.secret_sealing import endpoint_secrets_key
from webhook_service.domain.outbound_targets import IPNetwork, parse_networks
from webhook_service.domain.retry_schedule import (
    DEFAULT_BASE,
    DEFAULT_HORIZON,
    DEFAULT_MAX_DELAY,
    RetrySchedule,
)
from webhook_service.service_layer.dispatch import DispatchPolicy
from webhook_service.service_layer.retention import DEFAULT_MESSAGE_RETENTION

ALLOWED_NETWORKS: Final = "WEBHOOK_OUTBOUND_ALLOWED_NETWORKS"
SECRETS_KEY: Final = "WEBHOOK_ENDPOINT_SECRETS_KEY"


@dataclass(frozen=True)
class OutboundTrust:
    """Networks outbound calls may reach despite being non-public, and the key sealing secrets."""

    allowed_networks: tuple[IPNetwork, ...] = ()
    secrets_key: bytes | None = field(default=None, repr=False)


def outbound_trust(env: Env, problems: list[ConfigProblem]) -> OutboundTrust:
    networks: tuple[IPNetwork, ...] = ()
    try:
        networks = parse_networks(env.list(ALLOWED_NETWORKS, ()))
    except ValueError as error:
        problems.append(ConfigProblem(ALLOWED_NETWORKS, str(error)))
    key: bytes | None = None
    sealed: Secret | None = env.secret(SECRETS_KEY, default=None)
    if sealed is not None:
        try:
            key = endpoint_secrets_key(sealed.reveal())
        except ValueError as error:
            problems.append(ConfigProblem(SECRETS_KEY, str(error)))
    return OutboundTrust(networks, key)


def dispatch_policy(env: Env) -> DispatchPolicy:
    def seconds(name: str, default: timedelta, *, minimum: int = 1) -> timedelta:
        value = env.int(name, default=int(default.total_seconds()), min=minimum, max=30 * 86400)
        return timedelta(seconds=value)

    return DispatchPolicy(
        concurrency=env.int("WEBHOOK_DISPATCH_CONCURRENCY", default=16, min=1, max=256),
        per_endpoint=env.int("WEBHOOK_DISPATCH_PER_ENDPOINT", default=2, min=1, max=64),
        attempt_timeout_seconds=env.int(
            "WEBHOOK_DISPATCH_TIMEOUT_SECONDS", default=15, min=1, max=120
        ),
        schedule=RetrySchedule(
            base=seconds("WEBHOOK_RETRY_BASE_SECONDS", DEFAULT_BASE),
            max_delay=seconds("WEBHOOK_RETRY_MAX_DELAY_SECONDS", DEFAULT_MAX_DELAY),
            horizon=seconds("WEBHOOK_RETRY_HORIZON_SECONDS", DEFAULT_HORIZON),
        ),
    )


@dataclass(frozen=True)
class DispatcherSettings:
    database_url: Secret
    trust: OutboundTrust = field(default_factory=OutboundTrust)
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    message_retention: timedelta = DEFAULT_MESSAGE_RETENTION
    prune_interval_seconds: int = 600
    json_logs: bool = True
    log_level: str = "INFO"


@dataclass(frozen=True)
class NotifierSettings:
    database_url: Secret
    kafka_bootstrap_servers: str
    metrics_port: int | None = None
    json_logs: bool = True
    log_level: str = "INFO"


def load_dispatcher_settings(environ: Mapping[str, str] | None = None) -> DispatcherSettings:
    def build(env: Env) -> DispatcherSettings:
        problems: list[ConfigProblem] = []
        settings = DispatcherSettings(
            database_url=env.secret("WEBHOOK_DATABASE_URL"),
            trust=outbound_trust(env, problems),
            policy=dispatch_policy(env),
            message_retention=timedelta(
                days=env.int("WEBHOOK_MESSAGE_RETENTION_DAYS", default=30, min=1, max=3660)
            ),
            prune_interval_seconds=env.int(
                "WEBHOOK_PRUNE_INTERVAL_SECONDS", default=600, min=1, max=86400
            ),
            **_log(env),
        )
        if problems:
            raise ConfigError(*problems)
        return settings

    return load_settings(build, environ)


def load_notifier_settings(environ: Mapping[str, str] | None = None) -> NotifierSettings:
    def build(env: Env) -> NotifierSettings:
        return NotifierSettings(
            database_url=env.secret("WEBHOOK_DATABASE_URL"),
            kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS"),
            metrics_port=env.int("WEBHOOK_NOTIFIER_METRICS_PORT", default=None, min=1, max=65535),
            **_log(env),
        )

    return load_settings(build, environ)


def _log(env: Env) -> dict[str, Any]:
    return {
        "log_level": env.str(
            "LOG_LEVEL", default="INFO", choices={"DEBUG", "INFO", "WARNING", "ERROR"}
        ),
        "json_logs": env.str("LOG_FORMAT", default="json", choices={"json", "console"}) == "json",
    }
