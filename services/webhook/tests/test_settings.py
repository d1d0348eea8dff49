"""Configuration: defaults, and a clear refusal to start without what is required."""

from __future__ import annotations

from pathlib import Path

import pytest

from paykit.settings import ConfigError
from webhook_service.entrypoints.admin_auth import load_admin_access
from webhook_service.settings import load_relay_settings, load_web_settings

REQUIRED = {
    "WEBHOOK_DATABASE_URL": "postgresql://webhook@127.0.0.1/webhook",
    "PSP_WEBHOOK_SECRETS": "whsec_a, whsec_b",
    "AUTH_ISSUER": "payments-gateway",
    "AUTH_AUDIENCE": "payments-api",
    "AUTH_JWKS_PATH": "/etc/payments/jwks.json",
}


def test_defaults_fill_everything_optional() -> None:
    settings = load_web_settings(REQUIRED)

    assert [secret.reveal() for secret in settings.psp_webhook_secrets] == ["whsec_a", " whsec_b"]
    assert settings.tolerance_seconds == 300
    assert settings.max_body_bytes == 64 * 1024
    assert settings.max_json_depth == 8
    assert settings.redis_url is None
    assert settings.admin_scope == "webhooks:admin"
    assert "whsec" not in repr(settings)


def test_every_missing_or_bad_variable_is_reported_at_once() -> None:
    environ = {"WEBHOOK_TOLERANCE_SECONDS": "five minutes", "WEBHOOK_MAX_BODY_BYTES": "10"}

    with pytest.raises(ConfigError) as error:
        load_web_settings(environ)

    assert set(error.value.variables) == {
        *REQUIRED,
        "WEBHOOK_TOLERANCE_SECONDS",
        "WEBHOOK_MAX_BODY_BYTES",
    }


def test_the_relay_needs_only_the_database_and_kafka() -> None:
    settings = load_relay_settings(
        {"WEBHOOK_DATABASE_URL": "postgresql://x", "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092"}
    )

    assert settings.metrics_port is None
    with pytest.raises(ConfigError, match="KAFKA_BOOTSTRAP_SERVERS"):
        load_relay_settings({"WEBHOOK_DATABASE_URL": "postgresql://x"})


def test_an_unreadable_key_set_stops_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "jwks.json"
    broken.write_text('{"keys": []}')

    for path in (broken, tmp_path / "missing.json"):
        with pytest.raises(ConfigError, match="AUTH_JWKS_PATH"):
            load_admin_access(issuer="i", audience="a", jwks_path=path, scope="s")
