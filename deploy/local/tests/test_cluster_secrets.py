"""The development secrets `make up` makes: once per cluster, private, in the form services take."""

from __future__ import annotations

from pathlib import Path

from localcluster.secrets import ensure_endpoint_secrets_key, ensure_key_encryption_key
from webhook_service.outbound_settings import load_dispatcher_settings


def test_the_endpoint_secrets_key_is_made_once_private_and_opens_the_webhook_sealer(
    tmp_path: Path,
) -> None:
    key = ensure_endpoint_secrets_key(tmp_path)

    assert ensure_endpoint_secrets_key(tmp_path) == key, "kept: sealed secrets must still open"
    assert (tmp_path / "webhook-endpoint-secrets-key").stat().st_mode & 0o777 == 0o600
    assert key != ensure_key_encryption_key(tmp_path)
    settings = load_dispatcher_settings(
        {
            "WEBHOOK_DATABASE_URL": "postgresql://webhook@127.0.0.1/webhook",
            "WEBHOOK_ENDPOINT_SECRETS_KEY": key,
        }
    )
    assert settings.trust.secrets_key is not None
    assert len(settings.trust.secrets_key) == 32
