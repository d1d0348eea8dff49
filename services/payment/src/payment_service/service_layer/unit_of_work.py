"""What the use cases need from storage, as protocols the adapters and the test fakes implement.

A ``UnitOfWork`` is one open transaction. ``Transactions`` opens a new one for the block and
commits it when the block ends without an error: the use cases that call the PSP take several,
short ones, so no transaction or row lock is ever held across a call to the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from payevents import Envelope
from payment_service.domain.idempotency import StoredResponse
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.refund import Refund
from payment_service.domain.reports import Judgement, PspReport


@dataclass(frozen=True)
class PaymentQuery:
    merchant_id: str
    status: PaymentStatus | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None
    after: tuple[datetime, str] | None = None  # the cursor: (created_at, id) of the last row seen
    limit: int = 20


@dataclass(frozen=True)
class IdempotencyRecord:
    fingerprint: str
    response: StoredResponse | None


@dataclass(frozen=True)
class StoredReport:
    report: PspReport
    judgement: Judgement
    recorded_at: datetime | None


class RequestInFlight(Exception):
    """Another request with the same idempotency key has not finished."""


class PaymentRepository(Protocol):
    def add(self, payment: Payment) -> None: ...
    def get(self, payment_id: str) -> Payment | None: ...
    def get_for_update(self, payment_id: str) -> Payment | None: ...
    def save(self, payment: Payment) -> None: ...
    def search(self, query: PaymentQuery) -> list[Payment]: ...
    def due_for_recheck(self, now: datetime, limit: int) -> list[str]:
        """Ids of payments whose next check is due, the longest overdue first."""


class RefundRepository(Protocol):
    def add(self, refund: Refund) -> None: ...
    def get_for_update(self, refund_id: str) -> Refund | None: ...
    def find_for_update_by_psp_reference(self, psp_reference: str) -> Refund | None: ...
    def save(self, refund: Refund) -> None: ...
    def for_payment(
        self, payment_id: str, *, after: tuple[datetime, str] | None = None, limit: int = 100
    ) -> Sequence[Refund]:
        """Oldest first, from after the cursor (created_at, id)."""

    def due_for_recheck(self, now: datetime, limit: int) -> list[str]: ...


class ReportRepository(Protocol):
    def add(self, report: PspReport, judgement: Judgement) -> None: ...
    def for_payment(self, payment_id: str, limit: int) -> Sequence[StoredReport]:
        """Newest first."""


class IdempotencyRepository(Protocol):
    def claim(self, merchant_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """None when this request now owns the key; the existing record otherwise.

        Raises RequestInFlight when another request holds the key for too long.
        """

    def complete(self, merchant_id: str, key: str, response: StoredResponse) -> None: ...
    def prune(self, older_than_hours: float) -> int: ...


class UnitOfWork(Protocol):
    @property
    def payments(self) -> PaymentRepository: ...
    @property
    def refunds(self) -> RefundRepository: ...
    @property
    def reports(self) -> ReportRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...

    def publish(self, envelope: Envelope) -> None:
        """Queue ``envelope`` on payment-events, committed with everything else."""


Transactions = Callable[[], AbstractContextManager[UnitOfWork]]
"""Opens a transaction for a ``with`` block: committed when the block ends, else rolled back."""
