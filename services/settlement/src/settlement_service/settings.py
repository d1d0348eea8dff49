"""The settlement service's configuration, read once from the environment."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Final

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from payevents.topics import LEDGER_EVENTS
from paykit.auth.audiences import ADMIN_AUDIENCE, PAYMENTS_API_AUDIENCE, SETTLEMENT_ADMIN_SCOPE
from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings
from settlement_service.domain.configuration import (
    BankAccounts,
    MinimumPayouts,
    parse_bank_accounts,
    parse_minimum_payouts,
)

ITEMIZER_GROUP: Final = LEDGER_EVENTS.consumer("settlement-itemizer").name
# Not in the topic catalogue yet; the applier's group on webhook-events once it is.
PAYOUT_APPLIER_GROUP: Final = "settlement-payout-applier"
DEFAULT_SCHEDULE: Final = "0 2 * * *"  # every day at 02:00 UTC
READ_SCOPE: Final = "payments:read"
ADMIN_SCOPE: Final = SETTLEMENT_ADMIN_SCOPE


def parse_schedule(expression: str) -> CronTrigger:
    """A five-field crontab expression, evaluated in UTC; ValueError when malformed."""
    return CronTrigger.from_crontab(expression, timezone=UTC)


@dataclass(frozen=True)
class SettlementSettings:
    database_url: Secret
    kafka_bootstrap_servers: str
    bank_url: str
    auth_issuer: str
    auth_jwks_path: Path
    auth_audience: str = PAYMENTS_API_AUDIENCE
    auth_admin_audience: str = ADMIN_AUDIENCE
    read_scope: str = READ_SCOPE
    admin_scope: str = ADMIN_SCOPE
    schedule: str = DEFAULT_SCHEDULE
    holding_period_days: int = 2
    minimum_payouts: MinimumPayouts = field(default_factory=MinimumPayouts)
    bank_accounts: BankAccounts = field(default_factory=BankAccounts)
    bank_timeout_seconds: float = 10.0
    payout_stuck_after_seconds: int = 300
    janitor_interval_seconds: float = 30.0
    ledger_wait_warning_minutes: int = 15
    db_pool_size: int = 4
    metrics_port: int | None = None
    json_logs: bool = True

    @property
    def trigger(self) -> CronTrigger:
        return parse_schedule(self.schedule)


def _checked(
    env: Env,
    problems: list[ConfigProblem],
    name: str,
    default: str,
    parse: Callable[[str], object],
) -> str:
    """The variable's text once ``parse`` accepts it; the problem is recorded otherwise."""
    text = env.str(name, default)
    try:
        parse(text)
    except ValueError as error:
        problems.append(ConfigProblem(name, f"{error} (got {text!r})"))
        return default
    return text


def _build(env: Env) -> SettlementSettings:
    problems: list[ConfigProblem] = []
    schedule = _checked(env, problems, "SETTLEMENT_SCHEDULE", DEFAULT_SCHEDULE, parse_schedule)
    minimums = _checked(env, problems, "SETTLEMENT_MINIMUM_PAYOUT", "*=1", parse_minimum_payouts)
    accounts = _checked(env, problems, "SETTLEMENT_BANK_ACCOUNTS", "", parse_bank_accounts)
    settings = SettlementSettings(
        database_url=env.secret("SETTLEMENT_DATABASE_URL"),
        kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS"),
        bank_url=env.str("SETTLEMENT_BANK_URL", "") or env.str("PSP_URL"),
        auth_issuer=env.str("AUTH_ISSUER"),
        auth_jwks_path=Path(env.str("AUTH_JWKS_PATH")),
        auth_audience=env.str("AUTH_AUDIENCE", PAYMENTS_API_AUDIENCE),
        auth_admin_audience=env.str("AUTH_ADMIN_AUDIENCE", ADMIN_AUDIENCE),
        read_scope=env.str("SETTLEMENT_READ_SCOPE", READ_SCOPE),
        admin_scope=env.str("SETTLEMENT_ADMIN_SCOPE", ADMIN_SCOPE),
        schedule=schedule,
        holding_period_days=env.int("SETTLEMENT_HOLDING_PERIOD_DAYS", 2, min=0, max=365),
        minimum_payouts=parse_minimum_payouts(minimums),
        bank_accounts=parse_bank_accounts(accounts),
        bank_timeout_seconds=env.int("SETTLEMENT_BANK_TIMEOUT_SECONDS", 10, min=1, max=120),
        payout_stuck_after_seconds=env.int("SETTLEMENT_PAYOUT_STUCK_AFTER_SECONDS", 300, min=1),
        janitor_interval_seconds=env.int("SETTLEMENT_JANITOR_INTERVAL_SECONDS", 30, min=1),
        ledger_wait_warning_minutes=env.int(
            "SETTLEMENT_LEDGER_WAIT_WARNING_MINUTES", 15, min=0, max=7 * 24 * 60
        ),
        db_pool_size=env.int("SETTLEMENT_DB_POOL_SIZE", 4, min=1, max=100),
        metrics_port=env.int("SETTLEMENT_METRICS_PORT", None),
        json_logs=env.bool("SETTLEMENT_JSON_LOGS", True),
    )
    if problems:
        raise ConfigError(*problems)
    return settings


def load(environ: Mapping[str, str] | None = None) -> SettlementSettings:
    return load_settings(_build, environ)
