"""Builds the payment service's parts from settings: the one place where things are wired.

The API, the consumers and the janitor all start here; tests pass fakes for any part (the
transactions, the PSP, the clock) and get the same wiring otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from paykit.db import Connection, create_pool, readiness_check
from paykit.web import ReadinessCheck
from payment_service.adapters.psp import HttpPaymentProvider
from payment_service.adapters.unit_of_work import PostgresUnitOfWork, pooled_transactions
from payment_service.domain.recheck import Backoff
from payment_service.service_layer.context import Clock, ProviderContext, utc_now
from payment_service.service_layer.provider import PaymentProvider
from payment_service.service_layer.unit_of_work import Transactions, UnitOfWork
from payment_service.settings import PaymentSettings

_READINESS_TIMEOUT_SECONDS = 2.0


@dataclass
class PaymentService:
    settings: PaymentSettings
    transactions: Transactions
    # A unit of work on a transaction someone else owns (a consumer's).
    unit_of_work_on: Callable[[Connection], UnitOfWork]
    clock: Clock
    psp: PaymentProvider | None = None
    readiness_checks: dict[str, ReadinessCheck] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def stuck_after(self) -> timedelta:
        return timedelta(seconds=self.settings.stuck_after_seconds)

    @property
    def provider(self) -> ProviderContext:
        if self.psp is None:
            raise RuntimeError("this process was bootstrapped without the PSP")
        return ProviderContext(
            transactions=self.transactions,
            psp=self.psp,
            clock=self.clock,
            stuck_after=self.stuck_after,
            backoff=Backoff(
                first=self.stuck_after,
                longest=timedelta(seconds=self.settings.recheck_max_delay_seconds),
            ),
        )

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


def bootstrap(
    settings: PaymentSettings,
    *,
    name: str = "payment",
    pool_size: int = 4,
    with_psp: bool = False,
    transactions: Transactions | None = None,
    psp: PaymentProvider | None = None,
    unit_of_work_on: Callable[[Connection], UnitOfWork] | None = None,
    clock: Clock = utc_now,
) -> PaymentService:
    lock_timeout_ms = settings.idempotency_lock_timeout_ms
    closers: list[Callable[[], None]] = []
    checks: dict[str, ReadinessCheck] = {}
    if transactions is None:
        pool = create_pool(settings.database_url.reveal(), max_size=pool_size, name=name)
        closers.append(pool.close)
        checks["database"] = readiness_check(pool, timeout=_READINESS_TIMEOUT_SECONDS)
        transactions = pooled_transactions(pool, lock_timeout_ms=lock_timeout_ms)
    if psp is None and with_psp:
        http_psp = HttpPaymentProvider(
            settings.psp_url, timeout_seconds=settings.psp_timeout_seconds
        )
        closers.append(http_psp.close)
        psp = http_psp

    def postgres_unit_of_work_on(conn: Connection) -> UnitOfWork:
        return PostgresUnitOfWork(conn, lock_timeout_ms=lock_timeout_ms)

    return PaymentService(
        settings=settings,
        transactions=transactions,
        unit_of_work_on=unit_of_work_on or postgres_unit_of_work_on,
        clock=clock,
        psp=psp,
        readiness_checks=checks,
        closers=closers,
    )
