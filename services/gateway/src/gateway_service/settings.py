"""The gateway core's configuration, read once from the environment.

The edge (upstreams, limits) has its own settings object, ``edge_settings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Final

from gateway_service.adapters.key_encryption import decode_key_encryption_key
from gateway_service.domain.signing_keys import ACTIVATION_DELAY
from paykit.auth.audiences import ADMIN_AUDIENCE, GATEWAY_ADMIN_SCOPE, PAYMENTS_API_AUDIENCE
from paykit.settings import ConfigError, ConfigProblem, Env, Secret, load_settings

ISSUER: Final = "payments-gateway"
MERCHANT_SCOPES: Final = ("payments:read", "payments:write")


@dataclass(frozen=True)
class GatewaySettings:
    database_url: Secret
    key_encryption_key: Secret
    """base64url of 32 bytes: seals the signing keys' private halves in the database."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    auth_issuer: str = ISSUER
    auth_audience: str = PAYMENTS_API_AUDIENCE
    auth_admin_audience: str = ADMIN_AUDIENCE
    admin_scope: str = GATEWAY_ADMIN_SCOPE
    merchant_scopes: tuple[str, ...] = MERCHANT_SCOPES
    token_ttl: timedelta = timedelta(minutes=15)
    key_activation_delay: timedelta = ACTIVATION_DELAY
    """A rotated key is published this long before it signs (domain.signing_keys)."""
    jwks_max_age_seconds: int = 5
    initial_signing_key_path: Path | None = None
    initial_signing_key_id: str | None = None
    db_pool_size: int = 8
    json_logs: bool = True

    def key_encryption_key_bytes(self) -> bytes:
        return decode_key_encryption_key(self.key_encryption_key.reveal())


def _build(env: Env) -> GatewaySettings:
    problems: list[ConfigProblem] = []
    key_encryption_key = env.secret("GATEWAY_KEY_ENCRYPTION_KEY")
    if key_encryption_key.reveal():
        try:
            decode_key_encryption_key(key_encryption_key.reveal())
        except ValueError as error:
            problems.append(ConfigProblem("GATEWAY_KEY_ENCRYPTION_KEY", str(error)))
    key_path = env.str("AUTH_SIGNING_KEY_PATH", None)
    settings = GatewaySettings(
        database_url=env.secret("GATEWAY_DATABASE_URL"),
        key_encryption_key=key_encryption_key,
        redis_url=env.str("REDIS_URL"),
        auth_issuer=env.str("AUTH_ISSUER", ISSUER),
        auth_audience=env.str("AUTH_AUDIENCE", PAYMENTS_API_AUDIENCE),
        auth_admin_audience=env.str("AUTH_ADMIN_AUDIENCE", ADMIN_AUDIENCE),
        admin_scope=env.str("GATEWAY_ADMIN_SCOPE", GATEWAY_ADMIN_SCOPE),
        merchant_scopes=env.list("GATEWAY_MERCHANT_SCOPES", MERCHANT_SCOPES, separator=" "),
        token_ttl=timedelta(seconds=env.int("GATEWAY_TOKEN_TTL_SECONDS", 900, min=60, max=3600)),
        key_activation_delay=timedelta(
            seconds=env.int("GATEWAY_KEY_ACTIVATION_SECONDS", 10, min=0, max=3600)
        ),
        jwks_max_age_seconds=env.int("GATEWAY_JWKS_MAX_AGE_SECONDS", 5, min=0, max=300),
        initial_signing_key_path=Path(key_path) if key_path else None,
        initial_signing_key_id=env.str("AUTH_SIGNING_KEY_ID", None),
        db_pool_size=env.int("GATEWAY_DB_POOL_SIZE", 8, min=1, max=100),
        json_logs=env.bool("GATEWAY_JSON_LOGS", True),
    )
    if settings.initial_signing_key_path and not settings.initial_signing_key_id:
        problems.append(
            ConfigProblem("AUTH_SIGNING_KEY_ID", "is required with AUTH_SIGNING_KEY_PATH")
        )
    if problems:
        raise ConfigError(*problems)
    return settings


def load(environ: Mapping[str, str] | None = None) -> GatewaySettings:
    return load_settings(_build, environ)
