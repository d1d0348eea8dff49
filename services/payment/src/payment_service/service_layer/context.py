"""What every use case that talks to the PSP needs, built once by ``bootstrap``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from payment_service.domain.recheck import Backoff
from payment_service.service_layer.provider import PaymentProvider
from payment_service.service_layer.unit_of_work import Transactions

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ProviderContext:
    transactions: Transactions
    psp: PaymentProvider
    clock: Clock
    # How long a charge or refund in flight is left to its webhook before the janitor asks.
    stuck_after: timedelta
    backoff: Backoff
