"""Builds the webhook service's parts from settings: the one place where things are wired.

Tests call ``bootstrap`` with fakes for any part (a unit of work, a replay cache, admin access)
and get the same wiring otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Final

import redis
from psycopg_pool import ConnectionPool

from paykit.db import create_pool, readiness_check
from paykit.logging import get_logger
from paykit.web import ReadinessCheck
from paykit.web_auth import BearerAuth, load_bearer_auth
from webhook_service.adapters.outbound_http import PinnedHttpSender
from webhook_service.adapters.postgres_unit_of_work import PostgresUnitOfWork
from webhook_service.adapters.replay_cache import NoReplayCache, RedisReplayCache
from webhook_service.adapters.secret_sealing import SecretSealer
from webhook_service.adapters.source_rate_limiter import (
    NoSharedRateLimiter,
    RedisSourceRateLimiter,
)
from webhook_service.domain.outbound_targets import TargetPolicy
from webhook_service.domain.signatures import SignaturePolicy
from webhook_service.entrypoints.admin_auth import AdminAccess, load_admin_access
from webhook_service.outbound_settings import OutboundTrust
from webhook_service.service_layer.endpoints import VET_WITHIN_SECONDS, Endpoints
from webhook_service.service_layer.handlers import Clock, IntakeRules, utc_now
from webhook_service.service_layer.ports import ReplayCache, SourceRateLimiter, UnitOfWork
from webhook_service.settings import WebhookSettings

SERVICE_NAME: Final = "webhook"
# A replay-cache lookup is a shortcut, and the rate limit only guards what an unauthenticated
# request may store: waiting longer than this for either defeats its purpose.
_REDIS_TIMEOUT_SECONDS: Final = 0.1
_READINESS_TIMEOUT_SECONDS: Final = 2.0


@dataclass
class WebhookService:
    rules: IntakeRules
    replay_cache: ReplayCache
    rate_limiter: SourceRateLimiter
    admin: AdminAccess
    unit_of_work: Callable[[], UnitOfWork]
    clock: Clock = utc_now
    # merchants' endpoints: None when built without a database (tests with fakes)
    endpoints: Endpoints | None = None
    merchant_auth: BearerAuth | None = None
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def bootstrap(
    settings: WebhookSettings,
    *,
    unit_of_work: Callable[[], UnitOfWork] | None = None,
    replay_cache: ReplayCache | None = None,
    rate_limiter: SourceRateLimiter | None = None,
    admin: AdminAccess | None = None,
    clock: Clock = utc_now,
) -> WebhookService:
    rules = IntakeRules(
        signatures=SignaturePolicy(settings.psp_webhook_secrets, settings.tolerance_seconds),
        max_body_bytes=settings.max_body_bytes,
        max_json_depth=settings.max_json_depth,
    )
    admin = admin or load_admin_access(
        issuer=settings.auth_issuer,
        audience=settings.admin_audience,
        jwks_path=settings.auth_jwks_path,
        scope=settings.admin_scope,
    )
    closers: list[Callable[[], None]] = []
    checks: dict[str, ReadinessCheck] = {}
    endpoints: Endpoints | None = None
    if unit_of_work is None:
        pool = create_pool(
            settings.database_url.reveal(), max_size=settings.db_pool_size, name=SERVICE_NAME
        )
        closers.append(pool.close)
        checks["database"] = readiness_check(pool, timeout=_READINESS_TIMEOUT_SECONDS)
        unit_of_work = partial(PostgresUnitOfWork, pool)
        endpoints = merchant_endpoints(pool, settings.outbound, clock)
    if settings.redis_url is not None and (replay_cache is None or rate_limiter is None):
        client = redis.Redis.from_url(
            settings.redis_url.reveal(),
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
        )
        closers.append(client.close)
        if replay_cache is None:
            replay_cache = RedisReplayCache(client, ttl_seconds=settings.replay_cache_ttl_seconds)
        if rate_limiter is None:
            rate_limiter = RedisSourceRateLimiter(client, settings.unauthenticated_limit)
    return WebhookService(
        rules=rules,
        replay_cache=NoReplayCache() if replay_cache is None else replay_cache,
        rate_limiter=NoSharedRateLimiter() if rate_limiter is None else rate_limiter,
        admin=admin,
        unit_of_work=unit_of_work,
        clock=clock,
        endpoints=endpoints,
        merchant_auth=load_bearer_auth(
            issuer=settings.auth_issuer,
            audience=settings.merchant_audience,
            jwks_path=settings.auth_jwks_path,
            realm="webhook-endpoints",
        ),
        readiness_checks=checks,
        closers=closers,
    )


def merchant_endpoints(pool: ConnectionPool, trust: OutboundTrust, clock: Clock) -> Endpoints:
    """The endpoints use cases; a URL is vetted as the dispatcher would call it."""
    vetter = PinnedHttpSender(TargetPolicy(trust.allowed_networks), VET_WITHIN_SECONDS)
    if trust.secrets_key is None:
        get_logger(__name__).warning(
            "endpoint_secrets_unsealed", detail="WEBHOOK_ENDPOINT_SECRETS_KEY is not set"
        )
    return Endpoints(
        pool=pool,
        sealer=SecretSealer(trust.secrets_key),
        vet_url=lambda url: vetter.vet(url, within_seconds=VET_WITHIN_SECONDS),
        clock=clock,
    )
