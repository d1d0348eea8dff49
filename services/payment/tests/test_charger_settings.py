"""The charger runs several PSP calls at once, from one setting, and its batches stay within
the consumer's poll interval however slow the PSP is."""

from __future__ import annotations

import math

import pytest

from paykit.settings import ConfigError
from payment_service.adapters.psp import MAX_CONCURRENT_CALLS
from payment_service.entrypoints.workers import (
    charger_batch_deadline,
    charger_batch_size,
    charger_settings,
)
from payment_service.settings import PaymentSettings, load

HALF_THE_POLL_INTERVAL = 150.0
REQUIRED = {
    "PAYMENT_DATABASE_URL": "postgresql://unused",
    "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
    "PSP_URL": "http://psp",
    "AUTH_ISSUER": "gateway",
    "AUTH_AUDIENCE": "payments",
    "AUTH_JWKS_PATH": "/nonexistent",
}


def settings_with(**environ: str) -> PaymentSettings:
    return load({**REQUIRED, **environ})


def test_the_charger_runs_eight_handlers_at_once_unless_told_otherwise() -> None:
    assert settings_with().charger_concurrency == 8
    assert settings_with(PAYMENT_CHARGER_CONCURRENCY="3").charger_concurrency == 3


@pytest.mark.parametrize("value", ["0", "-1", "eight", str(MAX_CONCURRENT_CALLS + 1)])
def test_a_concurrency_the_charger_cannot_run_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="PAYMENT_CHARGER_CONCURRENCY"):
        settings_with(PAYMENT_CHARGER_CONCURRENCY=value)


def test_the_charger_consumes_with_the_configured_concurrency() -> None:
    consumer = charger_settings(
        settings_with(PAYMENT_CHARGER_CONCURRENCY="8", PAYMENT_PSP_TIMEOUT_SECONDS="10")
    )
    assert (consumer.handler_concurrency, consumer.handler_transactions) == (8, True)
    assert (consumer.batch_size, consumer.batch_deadline) == (96, 138.0)


def test_one_handler_at_a_time_consumes_as_it_always_did() -> None:
    consumer = charger_settings(
        settings_with(PAYMENT_CHARGER_CONCURRENCY="1", PAYMENT_PSP_TIMEOUT_SECONDS="10")
    )
    assert (consumer.handler_concurrency, consumer.batch_size, consumer.batch_deadline) == (
        1,
        12,
        None,
    )


@pytest.mark.parametrize("timeout", [1, 2, 10, 60, 140, 300])
@pytest.mark.parametrize("concurrency", [2, 8, MAX_CONCURRENT_CALLS])
def test_a_concurrent_batch_whose_every_call_times_out_ends_within_half_the_poll_interval(
    timeout: float, concurrency: int
) -> None:
    per_event = timeout + 2
    batch = charger_batch_size(timeout, concurrency)
    deadline = charger_batch_deadline(timeout, concurrency)
    assert deadline is not None
    # distinct payments: the batch is done in rounds of ``concurrency`` calls, without a cut
    rounds = math.ceil(batch / concurrency)
    assert rounds * per_event <= HALF_THE_POLL_INTERVAL or rounds == 1
    # one payment's events, one after another: none starts after the deadline
    assert deadline + per_event <= HALF_THE_POLL_INTERVAL or deadline == 1.0
