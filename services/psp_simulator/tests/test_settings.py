"""Settings come from the environment, with every bad variable reported at once. No I/O."""

import pytest

from paykit.settings import ConfigError, Secret
from psp_simulator.domain.faults import Faults
from psp_simulator.domain.webhooks import WebhookTarget
from psp_simulator.settings import load_sender_settings, load_simulator_settings

REDIS = {"REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0"}
SENDER = {
    **REDIS,
    "PSP_WEBHOOK_URL": "http://127.0.0.1:8002/webhooks/psp",
    "PSP_WEBHOOK_SECRETS": "whsec_new_0123456789abcdef0123456, whsec_old_0123456789abcdef0123456",
}


def test_simulator_defaults() -> None:
    settings = load_simulator_settings(REDIS)
    assert settings.key_prefix == "psp"
    assert settings.timings.outcome_delay == 0.2
    assert settings.timings.response_delay == 30.0
    assert settings.default_faults == Faults()
    assert settings.log.json


def test_simulator_reads_delays_prefix_and_default_faults() -> None:
    settings = load_simulator_settings(
        {
            **REDIS,
            "PSP_KEY_PREFIX": "psp-e2e",
            "PSP_OUTCOME_DELAY_SECONDS": "0.05",
            "PSP_TIMEOUT_DELAY_SECONDS": "2.5",
            "PSP_SLOW_WEBHOOK_DELAY_SECONDS": "3",
            "PSP_LATE_WEBHOOK_DELAY_SECONDS": "0.5",
            "PSP_FAULT_LATENCY_MS": "150",
            "PSP_FAULT_ERROR_RATE": "0.1",
            "PSP_FAULT_DOWN": "yes",
            "LOG_FORMAT": "console",
        }
    )
    assert settings.key_prefix == "psp-e2e"
    assert (settings.timings.outcome_delay, settings.timings.response_delay) == (0.05, 2.5)
    assert settings.timings.slow_webhook_delay == 3.0
    assert settings.timings.late_webhook_delay == 0.5
    assert settings.default_faults == Faults(latency_ms=150, error_rate=0.1, down=True)
    assert not settings.log.json


def test_every_bad_simulator_variable_is_reported_together() -> None:
    with pytest.raises(ConfigError) as error:
        load_simulator_settings(
            {
                "PSP_OUTCOME_DELAY_SECONDS": "soon",
                "PSP_TIMEOUT_DELAY_SECONDS": "3600",
                "PSP_FAULT_ERROR_RATE": "2",
                "PSP_KEY_PREFIX": "bad prefix",
            }
        )
    assert set(error.value.variables) == {
        "REDIS_URL",
        "PSP_OUTCOME_DELAY_SECONDS",
        "PSP_TIMEOUT_DELAY_SECONDS",
        "PSP_FAULT_ERROR_RATE",
        "PSP_KEY_PREFIX",
    }


def test_redis_url_never_shows_in_settings() -> None:
    assert "hunter2" not in repr(load_simulator_settings(REDIS))
    assert "hunter2" not in repr(load_sender_settings(SENDER))


def test_sender_signs_with_the_first_secret() -> None:
    settings = load_sender_settings(SENDER)
    assert settings.signing_secret == Secret("whsec_new_0123456789abcdef0123456")
    assert len(settings.webhook_secrets) == 2
    assert "whsec_new" not in repr(settings)


def test_sender_reads_its_retry_schedule() -> None:
    settings = load_sender_settings(
        {
            **SENDER,
            "PSP_WEBHOOK_RETRY_BASE_SECONDS": "0.5",
            "PSP_WEBHOOK_RETRY_CAP_SECONDS": "30",
            "PSP_WEBHOOK_RETRY_HORIZON_SECONDS": "600",
            "PSP_WEBHOOK_RETRY_JITTER": "0",
            "PSP_WEBHOOK_TIMEOUT_SECONDS": "2",
        }
    )
    retry = settings.retry
    assert (retry.base_seconds, retry.cap_seconds, retry.horizon_seconds) == (0.5, 30.0, 600.0)
    assert retry.jitter == 0.0
    assert settings.http_timeout_seconds == 2.0
    assert settings.lease_seconds > 4 * settings.http_timeout_seconds


def test_sender_defaults_retry_for_an_hour() -> None:
    retry = load_sender_settings(SENDER).retry
    assert (retry.base_seconds, retry.cap_seconds, retry.horizon_seconds) == (1.0, 300.0, 3600.0)


def test_sender_without_url_or_secrets_does_not_start() -> None:
    with pytest.raises(ConfigError) as error:
        load_sender_settings(REDIS)
    assert set(error.value.variables) == {"PSP_WEBHOOK_URL", "PSP_WEBHOOK_SECRETS"}


def test_sender_refuses_a_url_that_is_not_http_and_a_cap_below_the_base() -> None:
    with pytest.raises(ConfigError) as error:
        load_sender_settings(
            {
                **SENDER,
                "PSP_WEBHOOK_URL": "ftp://example",
                "PSP_WEBHOOK_RETRY_BASE_SECONDS": "10",
                "PSP_WEBHOOK_RETRY_CAP_SECONDS": "5",
            }
        )
    assert set(error.value.variables) == {"PSP_WEBHOOK_URL", "PSP_WEBHOOK_RETRY_CAP_SECONDS"}


def test_webhook_secrets_shorter_than_32_bytes_are_refused() -> None:
    with pytest.raises(ConfigError, match="PSP_WEBHOOK_SECRETS: each secret must be at least 32"):
        load_sender_settings({**SENDER, "PSP_WEBHOOK_SECRETS": "whsec_short"})


def test_payout_delay_and_report_fee_are_read_and_bounded() -> None:
    defaults = load_simulator_settings(REDIS)
    tuned = load_simulator_settings(
        {**REDIS, "PSP_PAYOUT_DELAY_SECONDS": "0.05", "PSP_REPORT_FEE_BPS": "150"}
    )

    assert (defaults.timings.payout_delay, defaults.report_fee_bps) == (0.5, 0)
    assert (tuned.timings.payout_delay, tuned.report_fee_bps) == (0.05, 150)
    with pytest.raises(ConfigError) as caught:
        load_simulator_settings(
            {**REDIS, "PSP_PAYOUT_DELAY_SECONDS": "-1", "PSP_REPORT_FEE_BPS": "10001"}
        )
    assert "PSP_PAYOUT_DELAY_SECONDS" in str(caught.value)
    assert "PSP_REPORT_FEE_BPS" in str(caught.value)


def test_payout_webhooks_go_beside_the_payment_webhooks_unless_told_otherwise() -> None:
    beside = load_sender_settings(SENDER)
    elsewhere = load_sender_settings(
        {**SENDER, "PSP_PAYOUT_WEBHOOK_URL": "http://127.0.0.1:9000/bank-hooks"}
    )

    assert (
        beside.webhook_urls[WebhookTarget.PAYOUTS] == "http://127.0.0.1:8002/webhooks/psp/payouts"
    )
    assert elsewhere.webhook_urls[WebhookTarget.PAYOUTS] == "http://127.0.0.1:9000/bank-hooks"
    with pytest.raises(ConfigError, match="PSP_PAYOUT_WEBHOOK_URL"):
        load_sender_settings({**SENDER, "PSP_PAYOUT_WEBHOOK_URL": "ftp://bank"})


def test_sender_runs_four_delivery_loops_unless_told_how_many() -> None:
    assert load_sender_settings(SENDER).sender_threads == 4
    assert load_sender_settings({**SENDER, "PSP_SENDER_THREADS": "16"}).sender_threads == 16


@pytest.mark.parametrize("threads", ["0", "65", "many", "2.5"])
def test_sender_refuses_a_number_of_loops_it_cannot_run(threads: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_sender_settings({**SENDER, "PSP_SENDER_THREADS": threads})
    assert error.value.variables == ("PSP_SENDER_THREADS",)
