"""The gateway refuses to start on a missing or malformed key encryption key."""

from __future__ import annotations

import pytest

from gateway_service import settings
from gateway_service.adapters.key_encryption import generate_key_encryption_key
from paykit.settings import ConfigError

ENVIRON = {
    "GATEWAY_DATABASE_URL": "postgresql://gateway@localhost/gateway",
    "GATEWAY_KEY_ENCRYPTION_KEY": generate_key_encryption_key(),
    "REDIS_URL": "redis://localhost:6379/0",
}


def test_defaults_are_minutes_of_token_life_and_seconds_of_activation() -> None:
    loaded = settings.load(ENVIRON)
    assert loaded.token_ttl.total_seconds() == 900
    assert loaded.key_activation_delay.total_seconds() == 10
    assert "GATEWAY_KEY" not in repr(loaded) and ENVIRON["GATEWAY_KEY_ENCRYPTION_KEY"] not in repr(
        loaded
    )


@pytest.mark.parametrize("value", ["", "short", "not base64 !!"])
def test_a_key_encryption_key_that_is_not_32_bytes_stops_start_up(value: str) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_KEY_ENCRYPTION_KEY"):
        settings.load({**ENVIRON, "GATEWAY_KEY_ENCRYPTION_KEY": value})


def test_a_signing_key_file_needs_its_kid() -> None:
    with pytest.raises(ConfigError, match="AUTH_SIGNING_KEY_ID"):
        settings.load({**ENVIRON, "AUTH_SIGNING_KEY_PATH": "/secrets/jwt-signing.pem"})
