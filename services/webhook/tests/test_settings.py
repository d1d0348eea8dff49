"""Configuration: defaults, and a clear refusal to start without what is required."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from localcluster.secrets import ensure_webhook_secret
from paykit.settings import ConfigError
from webhook_service.domain.rate_limits import RateLimit
from webhook_service.entrypoints.admin_auth import load_admin_access
from webhook_service.settings import load_relay_settings, load_web_settings

SECRET_A = "whsec_a_0123456789abcdef0123456789"
SECRET_B = "whsec_b_0123456789abcdef0123456789"
REQUIRED = {
    "WEBHOOK_DATABASE_URL": "postgresql://webhook@127.0.0.1/webhook",
    "PSP_WEBHOOK_SECRETS": f"{SECRET_A},{SECRET_B}",
    "AUTH_ISSUER": "payments-gateway",
    "AUTH_JWKS_PATH": "/etc/payments/jwks.json",
}


def test_defaults_fill_everything_optional() -> None:
    settings = load_web_settings(REQUIRED)

    assert [secret.reveal() for secret in settings.psp_webhook_secrets] == [SECRET_A, SECRET_B]
    assert settings.admin_audience == "payments-admin"
    assert settings.unauthenticated_limit == RateLimit(per_minute=60, burst=20)
    assert settings.tolerance_seconds == 300
    assert settings.max_body_bytes == 64 * 1024
    assert settings.max_json_depth == 8
    assert settings.redis_url is None
    assert settings.admin_scope == "webhooks:admin"
    assert "whsec" not in repr(settings)


def test_every_missing_or_bad_variable_is_reported_at_once() -> None:
    environ = {
        "WEBHOOK_TOLERANCE_SECONDS": "five minutes",
        "WEBHOOK_MAX_BODY_BYTES": "10",
        "AUTH_ADMIN_AUDIENCE": "payments-api",
        "WEBHOOK_UNAUTHENTICATED_BURST": "0",
    }

    with pytest.raises(ConfigError) as error:
        load_web_settings(environ)

    assert set(error.value.variables) == {
        *REQUIRED,
        "WEBHOOK_TOLERANCE_SECONDS",
        "WEBHOOK_MAX_BODY_BYTES",
        "AUTH_ADMIN_AUDIENCE",
        "WEBHOOK_UNAUTHENTICATED_BURST",
    }


def test_webhook_secrets_are_stripped_of_surrounding_whitespace() -> None:
    settings = load_web_settings(
        {**REQUIRED, "PSP_WEBHOOK_SECRETS": f" {SECRET_A} ,\t{SECRET_B}\n"}
    )

    assert [secret.reveal() for secret in settings.psp_webhook_secrets] == [SECRET_A, SECRET_B]


@pytest.mark.parametrize("secrets", ["whsec_short", f"{SECRET_A}, whsec_short ", "x" * 31])
def test_a_webhook_secret_shorter_than_32_bytes_stops_start_up(secrets: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_web_settings({**REQUIRED, "PSP_WEBHOOK_SECRETS": secrets})

    assert error.value.variables == ("PSP_WEBHOOK_SECRETS",)
    assert "32 bytes" in str(error.value)
    assert "whsec_short" not in str(error.value)
    assert "xxx" not in str(error.value)


def test_the_local_clusters_generated_webhook_secret_is_long_enough(tmp_path: Path) -> None:
    secret = ensure_webhook_secret(tmp_path)

    settings = load_web_settings({**REQUIRED, "PSP_WEBHOOK_SECRETS": secret})

    assert settings.psp_webhook_secrets[0].reveal() == secret


def test_admin_tokens_have_an_audience_of_their_own() -> None:
    shared = {**REQUIRED, "AUTH_AUDIENCE": "payments-api"}

    assert load_web_settings(shared).admin_audience == "payments-admin"
    assert load_web_settings({**shared, "AUTH_ADMIN_AUDIENCE": "ops"}).admin_audience == "ops"
    for same in ("payments-api", "payments-api "):
        with pytest.raises(ConfigError) as error:
            load_web_settings({**REQUIRED, "AUTH_ADMIN_AUDIENCE": same})
        assert error.value.variables == ("AUTH_ADMIN_AUDIENCE",)
    with pytest.raises(ConfigError, match="AUTH_ADMIN_AUDIENCE"):
        load_web_settings({**shared, "AUTH_AUDIENCE": "api", "AUTH_ADMIN_AUDIENCE": "api"})


def test_the_relay_needs_only_the_database_and_kafka() -> None:
    settings = load_relay_settings(
        {"WEBHOOK_DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}
    )

    assert settings.metrics_port is None
    assert settings.retention.rejected_for == timedelta(hours=72)
    assert settings.prune_interval_seconds == 600
    with pytest.raises(ConfigError, match="KAFKA_BOOTSTRAP_SERVERS"):
        load_relay_settings({"WEBHOOK_DATABASE_URL": "postgresql://x"})


def test_the_relay_reads_the_retention_of_rejected_deliveries() -> None:
    required = {"WEBHOOK_DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"}

    settings = load_relay_settings({**required, "WEBHOOK_REJECTED_RETENTION_HOURS": "24"})

    assert settings.retention.rejected_for == timedelta(hours=24)
    with pytest.raises(ConfigError, match="WEBHOOK_REJECTED_RETENTION_HOURS"):
        load_relay_settings({**required, "WEBHOOK_REJECTED_RETENTION_HOURS": "0"})


def test_an_unreadable_key_set_stops_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "jwks.json"
    broken.write_text('{"keys": []}')

    for path in (broken, tmp_path / "missing.json"):
        with pytest.raises(ConfigError, match="AUTH_JWKS_PATH"):
            load_admin_access(issuer="i", audience="a", jwks_path=path, scope="s")
