"""Builds the ledger service's parts from settings: the one place where things are wired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from psycopg_pool import ConnectionPool

from ledger_service.adapters.ledger_repository import LedgerRepository
from ledger_service.service_layer.posting import PostingInput
from ledger_service.settings import LedgerSettings
from paykit.db import Connection, create_pool, readiness_check
from paykit.web import ReadinessCheck


@dataclass
class LedgerService:
    settings: LedgerSettings
    pool: ConnectionPool | None = None
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    def posting_input(self, conn: Connection) -> PostingInput:
        """What the posting rules need, on a transaction someone else owns (a consumer's)."""
        return PostingInput(LedgerRepository(conn), self.settings.fee_policy)

    def connections(self) -> ConnectionPool:
        if self.pool is None:
            raise RuntimeError("this process was bootstrapped without a database pool")
        return self.pool

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def bootstrap(
    settings: LedgerSettings, *, name: str = "ledger", with_pool: bool = True
) -> LedgerService:
    service = LedgerService(settings)
    if with_pool:
        pool = create_pool(
            settings.database_url.reveal(), max_size=settings.db_pool_size, name=name
        )
        service.pool = pool
        service.closers.append(pool.close)
        service.readiness_checks["database"] = readiness_check(pool)
    return service
