"""Settings: a malformed schedule or rule stops start-up with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from paykit.settings import ConfigError
from settlement_service import settings

BASE = {
    "SETTLEMENT_DATABASE_URL": "postgresql://settlement@127.0.0.1:1/settlement",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "PSP_URL": "http://127.0.0.1:1",
    "AUTH_ISSUER": "tests",
    "AUTH_JWKS_PATH": "/nonexistent",
}


def test_the_rules_are_read_from_the_environment() -> None:
    loaded = settings.load(
        {
            **BASE,
            "SETTLEMENT_SCHEDULE": "*/10 * * * *",
            "SETTLEMENT_HOLDING_PERIOD_DAYS": "0",
            "SETTLEMENT_MINIMUM_PAYOUT": "EUR=1000,*=5",
            "SETTLEMENT_BANK_ACCOUNTS": "MER_a=acct_closed, MER_b=acct_invalid",
        }
    )

    assert loaded.holding_period_days == 0
    assert loaded.minimum_payouts.for_currency("EUR") == 1000
    assert loaded.minimum_payouts.for_currency("JPY") == 5
    assert loaded.bank_accounts.for_merchant("MER_b") == "acct_invalid"
    assert loaded.bank_accounts.for_merchant("MER_c") == "acct_success"
    assert loaded.bank_url == "http://127.0.0.1:1"


def test_a_bank_account_rule_ending_in_a_star_covers_every_merchant_with_that_prefix() -> None:
    loaded = settings.load(
        {
            **BASE,
            "SETTLEMENT_BANK_ACCOUNTS": (
                "MER_e2e_*=acct_silent,MER_e2e_closed_*=acct_closed,MER_e2e_closed_vip=acct_ok"
            ),
        }
    )
    accounts = loaded.bank_accounts

    assert accounts.for_merchant("MER_e2e_closed_4f2a") == "acct_closed"  # the longest prefix
    assert accounts.for_merchant("MER_e2e_closed_vip") == "acct_ok"  # an exact id wins
    assert accounts.for_merchant("MER_e2e_9c1d") == "acct_silent"
    assert accounts.for_merchant("MER_other") == "acct_success"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SETTLEMENT_SCHEDULE", "61 * * * *"),
        ("SETTLEMENT_MINIMUM_PAYOUT", "EUR=-1"),
        ("SETTLEMENT_BANK_ACCOUNTS", "MER_a"),
    ],
)
def test_a_malformed_rule_is_a_configuration_error(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings.load({**BASE, variable: value})

    assert caught.value.variables == (variable,)


def test_a_scheduler_with_a_malformed_cron_expression_stops_at_start_with_one_line() -> None:
    env = {**os.environ, **BASE, "SETTLEMENT_SCHEDULE": "every day at two"}
    done = subprocess.run(
        [sys.executable, "-m", "settlement_service.entrypoints.workers", "scheduler"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 78
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid configuration: SETTLEMENT_SCHEDULE:")
    assert "every day at two" in lines[0]
