"""The ledger service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from ledger_service.domain.fees import FeePolicy, parse_fee_policy
from payevents.topics import PAYMENT_EVENTS, SETTLEMENT_EVENTS
from paykit.auth.audiences import ADMIN_AUDIENCE, LEDGER_ADMIN_SCOPE, PAYMENTS_API_AUDIENCE
from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings

POSTER_GROUP: Final = PAYMENT_EVENTS.consumer("ledger-poster").name
SETTLEMENT_POSTER_GROUP: Final = SETTLEMENT_EVENTS.consumer("ledger-settlement-poster").name
# basis points + fixed minor units per currency; `*` for every other currency
DEFAULT_FEE_POLICY: Final = "EUR=140+25,GBP=140+20,USD=290+30,*=250+0"
READ_SCOPE: Final = "payments:read"
ADMIN_SCOPE: Final = LEDGER_ADMIN_SCOPE


@dataclass(frozen=True)
class LedgerSettings:
    database_url: Secret
    kafka_bootstrap_servers: str
    auth_issuer: str
    auth_jwks_path: Path
    auth_audience: str = PAYMENTS_API_AUDIENCE
    auth_admin_audience: str = ADMIN_AUDIENCE
    fee_policy: FeePolicy = field(default_factory=lambda: parse_fee_policy(DEFAULT_FEE_POLICY))
    read_scope: str = READ_SCOPE
    admin_scope: str = ADMIN_SCOPE
    batch_size: int = 500
    db_pool_size: int = 8
    metrics_port: int | None = None
    json_logs: bool = True


def _fee_policy(env: Env, problems: list[ConfigProblem]) -> FeePolicy:
    text = env.str("LEDGER_FEE_POLICY", DEFAULT_FEE_POLICY)
    try:
        return parse_fee_policy(text)
    except ValueError as error:
        problems.append(ConfigProblem("LEDGER_FEE_POLICY", str(error)))
        return FeePolicy()


def _build(env: Env) -> LedgerSettings:
    problems: list[ConfigProblem] = []
    settings = LedgerSettings(
        database_url=env.secret("LEDGER_DATABASE_URL"),
        kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS"),
        auth_issuer=env.str("AUTH_ISSUER"),
        auth_jwks_path=Path(env.str("AUTH_JWKS_PATH")),
        auth_audience=env.str("AUTH_AUDIENCE", PAYMENTS_API_AUDIENCE),
        auth_admin_audience=env.str("AUTH_ADMIN_AUDIENCE", ADMIN_AUDIENCE),
        fee_policy=_fee_policy(env, problems),
        read_scope=env.str("LEDGER_READ_SCOPE", READ_SCOPE),
        admin_scope=env.str("LEDGER_ADMIN_SCOPE", ADMIN_SCOPE),
        batch_size=env.int("LEDGER_BATCH_SIZE", 500, min=1, max=2000),
        db_pool_size=env.int("LEDGER_DB_POOL_SIZE", 8, min=1, max=100),
        metrics_port=env.int("LEDGER_METRICS_PORT", None),
        json_logs=env.bool("LEDGER_JSON_LOGS", True),
    )
    if problems:
        raise ConfigError(*problems)
    return settings


def load(environ: Mapping[str, str] | None = None) -> LedgerSettings:
    return load_settings(_build, environ)
