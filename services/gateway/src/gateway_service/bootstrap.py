"""Builds the gateway's parts from settings: the one place where things are wired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from psycopg_pool import ConnectionPool

from gateway_service.adapters.key_encryption import KeyEncryption
from gateway_service.service_layer.signing import SigningKeys
from gateway_service.service_layer.tokens import TokenPolicy
from gateway_service.settings import GatewaySettings
from paykit.auth.jwt import Verifier
from paykit.db import create_pool, readiness_check
from paykit.logging import get_logger
from paykit.web import ReadinessCheck
from paykit.web_auth import BearerAuth

_log = get_logger(__name__)


@dataclass
class GatewayService:
    settings: GatewaySettings
    pool: ConnectionPool
    signing_keys: SigningKeys
    merchant_auth: BearerAuth
    """Merchants' tokens (payments-api audience), checked against the gateway's own keys."""
    admin_auth: BearerAuth
    """Operators' tokens (payments-admin audience) for the /v1/admin routes."""
    redis: redis.Redis
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def token_policy(self) -> TokenPolicy:
        return TokenPolicy(
            issuer=self.settings.auth_issuer,
            audience=self.settings.auth_audience,
            ttl=self.settings.token_ttl,
            scopes=self.settings.merchant_scopes,
        )

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def bootstrap(settings: GatewaySettings, *, name: str = "gateway") -> GatewayService:
    pool = create_pool(settings.database_url.reveal(), max_size=settings.db_pool_size, name=name)
    signing_keys = signing_keys_of(settings, pool)
    import_initial_key(settings, signing_keys)
    keys = signing_keys.key_set()
    issuer = settings.auth_issuer
    # Short timeouts: the rate limiter fails open, and must not wait long to find Redis down.
    redis_client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=0.2, socket_timeout=0.2
    )
    service = GatewayService(
        settings=settings,
        pool=pool,
        signing_keys=signing_keys,
        merchant_auth=BearerAuth(
            Verifier(issuer=issuer, audience=settings.auth_audience, keys=keys), "payments"
        ),
        admin_auth=BearerAuth(
            Verifier(issuer=issuer, audience=settings.auth_admin_audience, keys=keys),
            "gateway-admin",
        ),
        redis=redis_client,
    )
    service.closers += [pool.close, redis_client.close]
    service.readiness_checks["database"] = readiness_check(pool)
    return service


def signing_keys_of(settings: GatewaySettings, pool: ConnectionPool) -> SigningKeys:
    return SigningKeys(
        pool,
        KeyEncryption(settings.key_encryption_key_bytes()),
        token_ttl=settings.token_ttl,
        activation_delay=settings.key_activation_delay,
    )


def import_initial_key(settings: GatewaySettings, signing_keys: SigningKeys) -> None:
    """The deployment's generated key becomes the gateway's first, if it has none yet; with no
    such key configured, the gateway generates its first key itself."""
    path, kid = settings.initial_signing_key_path, settings.initial_signing_key_id
    if path is not None and kid is not None and path.exists():
        if signing_keys.import_if_none(path.read_bytes(), kid):
            _log.info("signing_key_imported", kid=kid, path=str(path))
        return
    generated = signing_keys.generate_if_none()
    if generated is not None:
        _log.info("signing_key_generated", kid=generated)
