"""Development secrets generated once per cluster and kept in ``<state>/secrets`` (mode 0700).

The JWT signing key is the gateway's first key: the gateway imports it into its database on
its first start and owns it (and every rotated key) from then on; ``jwks.json`` is what the
services trust until the gateway's JWKS answers. The key encryption key seals the gateway's
signing keys in its database, the endpoint secrets key seals merchants' webhook signing secrets in
the webhook service's. The webhook secret is shared by the PSP simulator (signs) and the
webhook service (verifies).
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

from paykit.auth.jwks import jwks_document
from paykit.auth.jwt import SigningKey, generate_signing_key, public_keys

SIGNING_KEY_ID = "local-1"


def _write(path: Path, content: str | bytes, mode: int = 0o600) -> None:
    """Write a secrets file; the folder can be crossed but not listed by other users."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o711)
    path.touch(mode=mode)
    path.chmod(mode)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def ensure_auth_keys(secrets_dir: Path) -> tuple[Path, Path]:
    """The signing key's PEM and the matching JWKS document, created on first use."""
    pem, jwks = secrets_dir / "jwt-signing.pem", secrets_dir / "jwks.json"
    if not pem.exists():
        _write(pem, generate_signing_key(SIGNING_KEY_ID).private_key_pem())
    key = SigningKey(pem.read_bytes(), SIGNING_KEY_ID)
    # public keys: readable by services running as other users (containers)
    _write(jwks, json.dumps(jwks_document(public_keys([key])), indent=2), mode=0o644)
    return pem, jwks


def _ensure_sealing_key(path: Path) -> str:
    """An AES-256 key as the services take one: 32 random bytes, base64url, made once."""
    if not path.exists():
        _write(path, base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"))
    return path.read_text().strip()


def ensure_key_encryption_key(secrets_dir: Path) -> str:
    """The gateway's ``GATEWAY_KEY_ENCRYPTION_KEY``."""
    return _ensure_sealing_key(secrets_dir / "gateway-key-encryption-key")


def ensure_endpoint_secrets_key(secrets_dir: Path) -> str:
    """The webhook service's ``WEBHOOK_ENDPOINT_SECRETS_KEY``: kept across restarts, since the
    merchants' endpoint secrets sealed under it would not open under another."""
    return _ensure_sealing_key(secrets_dir / "webhook-endpoint-secrets-key")


def ensure_webhook_secret(secrets_dir: Path) -> str:
    path = secrets_dir / "psp-webhook-secret"
    if not path.exists():
        _write(path, f"whsec_{secrets.token_urlsafe(32)}")
    return path.read_text().strip()
