"""Fixtures for the payment service's tests."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from payevents import Envelope
from payment_service.domain.idempotency import StoredResponse
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.refund import Refund
from payment_service.service_layer.provider import (
    ChargeResult,
    ProviderRejected,
    RefundResult,
)
from payment_service.service_layer.unit_of_work import (
    IdempotencyRecord,
    PaymentQuery,
    RequestInFlight,
)

# Fakes for unit tests
#
# In-memory stand-ins for the PostgreSQL unit of work and the PSP client. The repositories hand
# out copies and keep only what ``save`` writes, like rows do, so a handler that forgets to save
# is caught. Time comes from a clock the tests move by hand.


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakePayments:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rows: dict[str, Payment] = {}

    def add(self, payment: Payment) -> None:
        if payment.id in self.rows:
            raise ValueError(f"duplicate payment id {payment.id}")
        payment.created_at = payment.updated_at = self.clock()
        self.rows[payment.id] = copy.deepcopy(payment)

    def get(self, payment_id: str) -> Payment | None:
        row = self.rows.get(payment_id)
        return copy.deepcopy(row) if row is not None else None

    def get_for_update(self, payment_id: str) -> Payment | None:
        return self.get(payment_id)

    def save(self, payment: Payment) -> None:
        row = self.rows.get(payment.id)
        if row is None:
            raise LookupError(f"no payment {payment.id} to save")
        payment.updated_at = self.clock()
        self.rows[payment.id] = dataclasses.replace(
            row,
            status=payment.status,
            refunded_amount=payment.refunded_amount,
            pending_refund_amount=payment.pending_refund_amount,
            psp_reference=payment.psp_reference,
            failure_code=payment.failure_code,
            failure_message=payment.failure_message,
            updated_at=payment.updated_at,
        )

    def search(self, query: PaymentQuery) -> list[Payment]:
        def matches(row: Payment) -> bool:
            assert row.created_at is not None
            return (
                row.merchant_id == query.merchant_id
                and (query.status is None or row.status is query.status)
                and (query.created_gte is None or row.created_at >= query.created_gte)
                and (query.created_lt is None or row.created_at < query.created_lt)
                and (query.after is None or (row.created_at, row.id) < query.after)
            )

        found = sorted(
            (row for row in self.rows.values() if matches(row)),
            key=lambda row: (row.created_at, row.id),
            reverse=True,
        )
        return [copy.deepcopy(row) for row in found[: query.limit]]

    def unsettled(
        self, status: PaymentStatus, older_than_seconds: float, limit: int
    ) -> list[Payment]:
        cutoff = self.clock() - timedelta(seconds=older_than_seconds)
        stuck = sorted(
            (
                row
                for row in self.rows.values()
                if row.status is status and row.updated_at is not None and row.updated_at < cutoff
            ),
            key=lambda row: (row.updated_at, row.id),
        )
        return [copy.deepcopy(row) for row in stuck[:limit]]


class FakeRefunds:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rows: dict[str, Refund] = {}

    def add(self, refund: Refund) -> None:
        if refund.id in self.rows:
            raise ValueError(f"duplicate refund id {refund.id}")
        refund.created_at = refund.updated_at = self.clock()
        self.rows[refund.id] = copy.deepcopy(refund)

    def get_for_update(self, refund_id: str) -> Refund | None:
        row = self.rows.get(refund_id)
        return copy.deepcopy(row) if row is not None else None

    def find_for_update_by_psp_reference(self, psp_reference: str) -> Refund | None:
        for row in self.rows.values():
            if row.psp_reference == psp_reference:
                return copy.deepcopy(row)
        return None

    def save(self, refund: Refund) -> None:
        row = self.rows.get(refund.id)
        if row is None:
            raise LookupError(f"no refund {refund.id} to save")
        self.rows[refund.id] = dataclasses.replace(
            row,
            status=refund.status,
            psp_reference=refund.psp_reference,
            failure_code=refund.failure_code,
            failure_message=refund.failure_message,
            updated_at=self.clock(),
        )

    def for_payment(self, payment_id: str) -> list[Refund]:
        found = [row for row in self.rows.values() if row.payment_id == payment_id]
        return [copy.deepcopy(row) for row in sorted(found, key=lambda r: (r.created_at, r.id))]


@dataclasses.dataclass
class FakeKeyRow:
    fingerprint: str
    response: StoredResponse | None
    created_at: datetime


class FakeIdempotency:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rows: dict[tuple[str, str], FakeKeyRow] = {}
        self.held: set[tuple[str, str]] = set()

    def hold(self, merchant_id: str, key: str) -> None:
        """Another request is working under this key and will not finish in time."""
        self.held.add((merchant_id, key))

    def claim(self, merchant_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        if (merchant_id, key) in self.held:
            raise RequestInFlight(key)
        row = self.rows.get((merchant_id, key))
        if row is None:
            self.rows[merchant_id, key] = FakeKeyRow(fingerprint, None, self.clock())
            return None
        return IdempotencyRecord(row.fingerprint, row.response)

    def complete(self, merchant_id: str, key: str, response: StoredResponse) -> None:
        row = self.rows.get((merchant_id, key))
        if row is not None:
            row.response = response

    def prune(self, older_than_hours: float) -> int:
        cutoff = self.clock() - timedelta(hours=older_than_hours)
        old = [name for name, row in self.rows.items() if row.created_at < cutoff]
        for name in old:
            del self.rows[name]
        return len(old)


class FakeUnitOfWork:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.payments = FakePayments(clock)
        self.refunds = FakeRefunds(clock)
        self.idempotency = FakeIdempotency(clock)
        self.published: list[Envelope] = []

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)

    def published_types(self) -> list[str]:
        return [envelope.type for envelope in self.published]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """What the caller's database transaction gives: all of it commits, or none of it."""
        saved = copy.deepcopy(
            (self.payments.rows, self.refunds.rows, self.idempotency.rows, self.published)
        )
        try:
            yield
        except BaseException:
            (
                self.payments.rows,
                self.refunds.rows,
                self.idempotency.rows,
                self.published,
            ) = saved
            raise


class FakeProvider:
    """A PSP that answers as scripted and remembers every call.

    Charges answer ``succeeded`` until told otherwise; ``get_charge`` reports what the charge last
    became. Charge and refund ids derive from the platform's ids, as the real PSP is idempotent on
    them.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.charges: dict[str, ChargeResult] = {}
        self.charge_answer: ChargeResult | Exception = ChargeResult("", "succeeded")
        self.refund_answer: RefundResult | Exception = RefundResult("", "processing")

    def charges_will(self, status: str, failure_code: str | None = None) -> None:
        self.charge_answer = ChargeResult("", status, failure_code)

    def charges_will_raise(self, error: Exception) -> None:
        self.charge_answer = error

    def refunds_will(self, status: str, failure_code: str | None = None) -> None:
        self.refund_answer = RefundResult("", status, failure_code)

    def refunds_will_raise(self, error: Exception) -> None:
        self.refund_answer = error

    def settle_charge(self, charge_id: str, status: str, failure_code: str | None = None) -> None:
        """The charge moved on at the PSP since it was made."""
        self.charges[charge_id] = ChargeResult(charge_id, status, failure_code)

    def charge(self, payment: Payment) -> ChargeResult:
        self.calls.append(("charge", payment.id))
        if isinstance(self.charge_answer, Exception):
            raise self.charge_answer
        result = dataclasses.replace(self.charge_answer, charge_id=charge_id_for(payment.id))
        self.charges[result.charge_id] = result
        return result

    def get_charge(self, charge_id: str) -> ChargeResult:
        self.calls.append(("get_charge", charge_id))
        if charge_id not in self.charges:
            raise ProviderRejected("charge_not_found", f"no charge {charge_id}")
        return self.charges[charge_id]

    def refund(self, refund: Refund, charge_id: str) -> RefundResult:
        self.calls.append(("refund", refund.id, charge_id))
        if isinstance(self.refund_answer, Exception):
            raise self.refund_answer
        return dataclasses.replace(self.refund_answer, refund_id=refund_id_for(refund.id))


def charge_id_for(payment_id: str) -> str:
    return f"ch_{payment_id.removeprefix('PAY_')}"


def refund_id_for(refund_id: str) -> str:
    return f"re_{refund_id.removeprefix('RFD_')}"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_uow(fake_clock: FakeClock) -> FakeUnitOfWork:
    return FakeUnitOfWork(fake_clock)


@pytest.fixture
def fake_psp() -> FakeProvider:
    return FakeProvider()
