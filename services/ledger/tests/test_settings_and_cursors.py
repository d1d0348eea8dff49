"""Configuration fails fast with the variable named; cursors are opaque and checked."""

from __future__ import annotations

import pytest

from ledger_service import settings
from ledger_service.entrypoints.schemas import decode_cursor, encode_cursor
from paykit.settings import ConfigError

REQUIRED = {
    "LEDGER_DATABASE_URL": "postgresql://ledger@localhost/ledger",
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "AUTH_ISSUER": "payments-gateway",
    "AUTH_JWKS_PATH": "/secrets/jwks.json",
}


def test_the_fee_policy_comes_from_the_environment() -> None:
    loaded = settings.load({**REQUIRED, "LEDGER_FEE_POLICY": "EUR=100+10,*=0+0"})
    assert loaded.fee_policy.fee_for(10_000, "EUR") == 110
    assert loaded.fee_policy.fee_for(10_000, "USD") == 0


@pytest.mark.parametrize("policy", ["EUR=1.5+10", "EUR=100", "euro=100+1", "EUR=20000+0"])
def test_a_malformed_fee_policy_stops_start_up_naming_the_variable(policy: str) -> None:
    with pytest.raises(ConfigError) as error:
        settings.load({**REQUIRED, "LEDGER_FEE_POLICY": policy})
    assert "LEDGER_FEE_POLICY" in error.value.variables


def test_a_missing_database_url_is_named() -> None:
    environ = {k: v for k, v in REQUIRED.items() if k != "LEDGER_DATABASE_URL"}
    with pytest.raises(ConfigError) as error:
        settings.load(environ)
    assert "LEDGER_DATABASE_URL" in error.value.variables


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    assert decode_cursor(encode_cursor(12345)) == 12345
    for forged in ("12345", "ZTEyYQ", "!!!"):
        with pytest.raises(ValueError):
            decode_cursor(forged)
