"""Builds everything the dashboard's app uses from its settings, once per process.

Tests pass their own settings (and clock) into the same function, so what they run is what
gunicorn runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import redis

from dashboard_service.adapters.dead_letters import DeadLetters
from dashboard_service.settings import DashboardSettings
from paykit.auth.jwt import Verifier
from paykit.web_auth import load_bearer_auth


@dataclass
class DashboardService:
    settings: DashboardSettings
    http: httpx.Client
    redis: redis.Redis
    merchant_tokens: Verifier
    operator_tokens: Verifier
    dead_letters: DeadLetters | None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def readiness_checks(self) -> dict[str, Callable[[], None]]:
        def redis_answers() -> None:
            self.redis.ping()

        return {"redis": redis_answers}

    def close(self) -> None:
        self.http.close()
        self.redis.close()


def bootstrap(settings: DashboardSettings) -> DashboardService:
    def verifier(audience: str) -> Verifier:
        return load_bearer_auth(
            issuer=settings.auth_issuer,
            audience=audience,
            jwks_path=settings.jwks_path,
            realm="dashboard",
        ).verifier

    servers = settings.kafka_bootstrap_servers
    return DashboardService(
        settings=settings,
        http=httpx.Client(timeout=settings.api_timeout),
        redis=redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=1.0, socket_timeout=2.0
        ),
        merchant_tokens=verifier(settings.auth_audience),
        operator_tokens=verifier(settings.auth_admin_audience),
        dead_letters=DeadLetters(servers, settings.dlq_timeout) if servers else None,
    )
