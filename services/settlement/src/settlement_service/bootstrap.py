"""Builds the settlement service's parts from settings: the one place where things are wired.

The API, the consumers, the scheduler and the janitor all start here; tests pass a bank stub
or a clock and get the same wiring otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from psycopg_pool import ConnectionPool

from paykit.db import create_pool, readiness_check
from paykit.web import ReadinessCheck
from settlement_service.adapters.bank_http import HttpBank
from settlement_service.service_layer.bank import Bank
from settlement_service.settings import SettlementSettings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SettlementService:
    settings: SettlementSettings
    clock: Clock = utc_now
    pool: ConnectionPool | None = None
    bank: Bank | None = None
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def holding_period(self) -> timedelta:
        return timedelta(days=self.settings.holding_period_days)

    @property
    def payout_stuck_after(self) -> timedelta:
        return timedelta(seconds=self.settings.payout_stuck_after_seconds)

    @property
    def ledger_wait_warning(self) -> timedelta:
        return timedelta(minutes=self.settings.ledger_wait_warning_minutes)

    def connections(self) -> ConnectionPool:
        if self.pool is None:
            raise RuntimeError("this process was bootstrapped without a database pool")
        return self.pool

    def the_bank(self) -> Bank:
        if self.bank is None:
            raise RuntimeError("this process was bootstrapped without the bank")
        return self.bank

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def bootstrap(
    settings: SettlementSettings,
    *,
    name: str = "settlement",
    with_pool: bool = True,
    with_bank: bool = False,
    bank: Bank | None = None,
    clock: Clock = utc_now,
) -> SettlementService:
    service = SettlementService(settings, clock=clock, bank=bank)
    if with_pool:
        pool = create_pool(
            settings.database_url.reveal(), max_size=settings.db_pool_size, name=name
        )
        service.pool = pool
        service.closers.append(pool.close)
        service.readiness_checks["database"] = readiness_check(pool)
    if bank is None and with_bank:
        http_bank = HttpBank(settings.bank_url, timeout_seconds=settings.bank_timeout_seconds)
        service.closers.append(http_bank.close)
        service.bank = http_bank
    return service
