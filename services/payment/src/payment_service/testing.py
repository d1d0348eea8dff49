"""In-memory stand-ins for the PostgreSQL unit of work and the PSP, for the unit tests.

The repositories hand out copies and keep only what ``save`` writes, like rows do, so a use case
that forgets to save is caught. Transactions commit all or nothing, and count how many are open,
so a test can prove no transaction is open while the PSP is being called. The PSP keeps charges
and refunds per idempotency key, as the real one does. Time comes from a clock moved by hand.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from payevents import Envelope, decode, encode
from payment_service.domain.idempotency import StoredResponse
from payment_service.domain.payment import Payment
from payment_service.domain.psp import ChargeRecord, PspStatus, RefundRecord
from payment_service.domain.refund import Refund
from payment_service.domain.reports import Judgement, PspReport
from payment_service.service_layer.provider import ProviderMisconfigured
from payment_service.service_layer.unit_of_work import (
    IdempotencyRecord,
    PaymentQuery,
    RequestInFlight,
    StoredReport,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _due(rows: dict[str, Payment] | dict[str, Refund], now: datetime, limit: int) -> list[str]:
    due = [row for row in rows.values() if row.recheck.is_due(now)]
    due.sort(key=lambda row: (row.recheck.due_at, row.id))
    return [row.id for row in due[:limit]]


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
            recheck=copy.deepcopy(payment.recheck),
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

    def due_for_recheck(self, now: datetime, limit: int) -> list[str]:
        return _due(self.rows, now, limit)


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
            recheck=copy.deepcopy(refund.recheck),
            updated_at=self.clock(),
        )

    def for_payment(
        self, payment_id: str, *, after: tuple[datetime, str] | None = None, limit: int = 100
    ) -> list[Refund]:
        found = sorted(
            (row for row in self.rows.values() if row.payment_id == payment_id),
            key=lambda r: (r.created_at, r.id),
        )
        if after is not None:
            found = [row for row in found if (row.created_at, row.id) > after]
        return [copy.deepcopy(row) for row in found[:limit]]

    def due_for_recheck(self, now: datetime, limit: int) -> list[str]:
        return _due(self.rows, now, limit)


class FakeReports:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rows: list[StoredReport] = []

    def add(self, report: PspReport, judgement: Judgement) -> None:
        self.rows.append(StoredReport(report, judgement, self.clock()))

    def for_payment(self, payment_id: str, limit: int) -> list[StoredReport]:
        found = [row for row in self.rows if row.report.payment_id == payment_id]
        return list(reversed(found))[:limit]


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
        self.reports = FakeReports(clock)
        self.idempotency = FakeIdempotency(clock)
        self.published: list[Envelope] = []
        self.open_transactions = 0
        self.committed = 0

    def publish(self, envelope: Envelope) -> None:
        self.published.append(envelope)

    def published_types(self) -> list[str]:
        return [envelope.type for envelope in self.published]

    def _state(self) -> tuple[object, ...]:
        return (
            self.payments.rows,
            self.refunds.rows,
            self.reports.rows,
            self.idempotency.rows,
            self.published,
        )

    @contextmanager
    def transaction(self) -> Iterator[FakeUnitOfWork]:
        """What a database transaction gives: all of it commits, or none of it."""
        saved = copy.deepcopy(self._state())
        self.open_transactions += 1
        try:
            yield self
        except BaseException:
            (
                self.payments.rows,
                self.refunds.rows,
                self.reports.rows,
                self.idempotency.rows,
                self.published,
            ) = saved  # type: ignore[assignment]
            raise
        else:
            self.committed += 1
        finally:
            self.open_transactions -= 1


def charge_id_for(payment_id: str) -> str:
    return f"ch_{payment_id.removeprefix('PAY_')}"


def refund_id_for(refund_id: str) -> str:
    return f"re_{refund_id.removeprefix('RFD_')}"


class FakeProvider:
    """A PSP keeping charges and refunds by the platform's ids (its idempotency keys).

    New charges take the status ``charges_will`` set (``succeeded`` by default); ``settle``
    moves one on later, as the real PSP's outcome arrives after its answer. ``on_call`` runs
    inside every call, to look at the world while the PSP is busy.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.charges: dict[str, ChargeRecord] = {}
        self.refunds: dict[str, RefundRecord] = {}
        self.new_charge_status = PspStatus.SUCCEEDED
        self.new_charge_failure: str | None = None
        self.new_refund_status = PspStatus.PROCESSING
        self.failures: dict[str, Exception] = {}
        self.on_call: Callable[[], None] = lambda: None

    def charges_will(self, status: str, failure_code: str | None = None) -> None:
        self.new_charge_status = PspStatus(status)
        self.new_charge_failure = failure_code

    def refunds_will(self, status: str) -> None:
        self.new_refund_status = PspStatus(status)

    def fail(self, operation: str, error: Exception | None) -> None:
        """Make ``operation`` (charge, find_charge, refund, get_refund) raise, or not."""
        if error is None:
            self.failures.pop(operation, None)
        else:
            self.failures[operation] = error

    def settle(self, payment_id: str, status: str, failure_code: str | None = None) -> None:
        charge = self.charges[payment_id]
        self.charges[payment_id] = dataclasses.replace(
            charge, status=PspStatus(status), failure_code=failure_code
        )

    def settle_refund(self, refund_id: str, status: str) -> None:
        self.refunds[refund_id] = dataclasses.replace(
            self.refunds[refund_id], status=PspStatus(status)
        )

    def _enter(self, operation: str, *args: str) -> None:
        self.calls.append((operation, *args))
        self.on_call()
        if operation in self.failures:
            raise self.failures[operation]

    def charge(self, payment: Payment) -> ChargeRecord:
        self._enter("charge", payment.id)
        if payment.id not in self.charges:
            self.charges[payment.id] = ChargeRecord(
                id=charge_id_for(payment.id),
                reference=payment.id,
                amount=payment.amount,
                currency=payment.currency,
                status=self.new_charge_status,
                failure_code=self.new_charge_failure,
            )
        return self.charges[payment.id]

    def find_charge(self, payment: Payment) -> ChargeRecord | None:
        self._enter("find_charge", payment.id)
        return self.charges.get(payment.id)

    def refund(self, refund: Refund, charge_id: str) -> RefundRecord:
        self._enter("refund", refund.id, charge_id)
        if refund.id not in self.refunds:
            self.refunds[refund.id] = RefundRecord(
                id=refund_id_for(refund.id),
                charge_id=charge_id,
                reference=refund.id,
                amount=refund.amount,
                currency=refund.currency,
                status=self.new_refund_status,
            )
        return self.refunds[refund.id]

    def get_refund(self, psp_refund_id: str) -> RefundRecord:
        self._enter("get_refund", psp_refund_id)
        for record in self.refunds.values():
            if record.id == psp_refund_id:
                return record
        raise ProviderMisconfigured(404, "refund_not_found", f"no refund {psp_refund_id}")


def report_about(payment: Payment, status: str, **changes: Any) -> PspReport:
    """A complete report that agrees with ``payment``, as the PSP's webhook sends it."""
    complete = PspReport(
        event_id="evt_psp_1",
        payment_id=payment.id,
        status=PspStatus(status),
        amount=payment.amount,
        currency=payment.currency,
        psp_reference=payment.psp_reference or charge_id_for(payment.id),
        failure_code="card_declined" if status == "failed" else None,
    )
    return dataclasses.replace(complete, **changes)


def refund_report_about(refund: Refund, status: str, **changes: Any) -> PspReport:
    complete = PspReport(
        event_id="evt_psp_2",
        payment_id=refund.payment_id,
        status=PspStatus(status),
        amount=refund.amount,
        currency=refund.currency,
        psp_reference=refund.psp_reference or refund_id_for(refund.id),
        refund_id=refund.id,
    )
    return dataclasses.replace(complete, **changes)


def stored_payment(uow: FakeUnitOfWork, payment_id: str) -> Payment:
    payment = uow.payments.get(payment_id)
    assert payment is not None, f"no payment {payment_id}"
    return payment


def stored_refund(uow: FakeUnitOfWork, refund_id: str) -> Refund:
    refund = uow.refunds.get_for_update(refund_id)
    assert refund is not None, f"no refund {refund_id}"
    return refund


def on_the_wire(uow: FakeUnitOfWork) -> list[Envelope]:
    """What consumers will read from everything ``uow`` published: encoded and decoded again,
    so an event its schema would refuse fails the test that made it."""
    return [decode(*encode(envelope)) for envelope in uow.published]
