"""The dashboard's configuration, read once from the environment into one frozen object.

Each address is ``DASHBOARD_<NAME>_URL``, else the variable a local cluster's ``cluster.env``
sets (``GATEWAY_URL``, ``LEDGER_URL``, ``SETTLEMENT_URL``), so the Procfile line needs no
addresses of its own. The gateway is required; the ledger's and settlement's admin APIs, Kafka
(the dead letter queues) and the ledger's database (``ledger verify``: a read-only role,
``DASHBOARD_LEDGER_DATABASE_URL``, else ``LEDGER_DATABASE_URL`` as payctl reads it) are what
the operators' pages need, and a page whose source is not configured says so instead of failing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from paykit.auth.audiences import ADMIN_AUDIENCE, PAYMENTS_API_AUDIENCE
from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings

ISSUER: Final = "payments-gateway"
MIN_SECRET_KEY_CHARS: Final = 32


@dataclass(frozen=True)
class DashboardSettings:
    gateway_url: str
    redis_url: str
    jwks_path: Path
    secret_key: Secret | None = None
    """Signs the forms' CSRF tokens (Flask's SECRET_KEY). Unset: one made once and kept in
    Redis beside the sessions, so every worker and instance signs with the same key."""
    ledger_url: str | None = None
    settlement_url: str | None = None
    kafka_bootstrap_servers: str | None = None
    ledger_database_url: Secret | None = None
    auth_issuer: str = ISSUER
    auth_audience: str = PAYMENTS_API_AUDIENCE
    auth_admin_audience: str = ADMIN_AUDIENCE
    idle_timeout: timedelta = timedelta(minutes=10)
    """A session nobody used for this long is gone; a session never outlives its token."""
    secure_cookies: bool = False
    """Always mark the cookie Secure (behind a TLS-terminating proxy); it is anyway on HTTPS."""
    trusted_proxies: int = 0
    """How many proxies' X-Forwarded-* headers to believe (0: none)."""
    api_timeout: float = 10.0
    dlq_timeout: float = 5.0
    json_logs: bool = True


def _url(env: Env, environ: Mapping[str, str], name: str) -> str | None:
    given = env.str(f"DASHBOARD_{name}_URL", None) or (environ.get(f"{name}_URL") or "").strip()
    return given.rstrip("/") or None


def _build(env: Env, environ: Mapping[str, str]) -> DashboardSettings:
    problems: list[ConfigProblem] = []
    gateway_url = _url(env, environ, "GATEWAY")
    if gateway_url is None:
        problems.append(ConfigProblem("DASHBOARD_GATEWAY_URL", "is required (or GATEWAY_URL)"))
    secret_key = env.secret("DASHBOARD_SECRET_KEY", None)
    if secret_key is not None and len(secret_key.reveal()) < MIN_SECRET_KEY_CHARS:
        problems.append(
            ConfigProblem("DASHBOARD_SECRET_KEY", f"needs {MIN_SECRET_KEY_CHARS} characters")
        )
    settings = DashboardSettings(
        gateway_url=gateway_url or "",
        secret_key=secret_key,
        redis_url=env.str("REDIS_URL"),
        jwks_path=Path(env.str("AUTH_JWKS_PATH")),
        ledger_url=_url(env, environ, "LEDGER"),
        settlement_url=_url(env, environ, "SETTLEMENT"),
        kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS", None),
        ledger_database_url=env.secret("DASHBOARD_LEDGER_DATABASE_URL", None)
        or env.secret("LEDGER_DATABASE_URL", None),
        auth_issuer=env.str("AUTH_ISSUER", ISSUER),
        auth_audience=env.str("AUTH_AUDIENCE", PAYMENTS_API_AUDIENCE),
        auth_admin_audience=env.str("AUTH_ADMIN_AUDIENCE", ADMIN_AUDIENCE),
        idle_timeout=timedelta(
            seconds=env.int("DASHBOARD_IDLE_TIMEOUT_SECONDS", 600, min=30, max=3600)
        ),
        secure_cookies=env.bool("DASHBOARD_SECURE_COOKIES", False),
        trusted_proxies=env.int("DASHBOARD_TRUSTED_PROXIES", 0, min=0, max=5),
        api_timeout=env.int("DASHBOARD_API_TIMEOUT_SECONDS", 10, min=1, max=120),
        dlq_timeout=env.int("DASHBOARD_DLQ_TIMEOUT_SECONDS", 5, min=1, max=60),
        json_logs=env.bool("DASHBOARD_JSON_LOGS", True),
    )
    if problems:
        raise ConfigError(*problems)
    return settings


def load(environ: Mapping[str, str] | None = None) -> DashboardSettings:
    given = os.environ if environ is None else environ
    return load_settings(lambda env: _build(env, given), given)
