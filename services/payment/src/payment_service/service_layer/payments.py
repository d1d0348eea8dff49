"""The merchant's requests: create a payment, ask for a refund, look at them.

Each runs in one transaction owned by its caller, so a state change and the event announcing it
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from payment_service.domain.errors import PaymentNotFound
from payment_service.domain.ids import is_payment_id, new_payment_id
from payment_service.domain.payment import Payment
from payment_service.domain.refund import Refund, new_refund_id
from payment_service.service_layer.commands import CreatePayment, RequestRefund
from payment_service.service_layer.events import payment_event, refund_event
from payment_service.service_layer.unit_of_work import StoredReport, UnitOfWork


def create_payment(
    command: CreatePayment, uow: UnitOfWork, *, now: datetime, charge_within: timedelta
) -> Payment:
    """``charge_within``: if the charger has not settled it by then, the janitor charges it."""
    payment = Payment(
        id=new_payment_id(),
        merchant_id=command.merchant_id,
        amount=command.amount,
        currency=command.currency,
        payment_method=command.payment_method,
        description=command.description,
        metadata=dict(command.metadata),
    )
    payment.recheck.wait_until(now + charge_within)
    uow.payments.add(payment)
    uow.publish(
        payment_event(
            "payment.created",
            payment,
            correlation_id=command.correlation_id,
            payment_method=payment.payment_method,
            description=payment.description,
            metadata=payment.metadata,
            capture_method="automatic",
        )
    )
    return payment


def request_refund(
    command: RequestRefund, uow: UnitOfWork, *, now: datetime, send_within: timedelta
) -> Refund:
    known = is_payment_id(command.payment_id)
    payment = uow.payments.get_for_update(command.payment_id) if known else None
    if payment is None or payment.merchant_id != command.merchant_id:
        raise PaymentNotFound(f"No payment {command.payment_id}.")
    amount = payment.refundable_amount if command.amount is None else command.amount
    payment.reserve_refund(amount)
    refund = Refund(
        id=new_refund_id(),
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        amount=amount,
        currency=payment.currency,
        reason=command.reason,
    )
    refund.recheck.wait_until(now + send_within)
    uow.refunds.add(refund)
    uow.payments.save(payment)
    uow.publish(
        refund_event(
            "refund.requested", refund, correlation_id=command.correlation_id, reason=command.reason
        )
    )
    return refund


def merchants_payment(uow: UnitOfWork, merchant_id: str, payment_id: str) -> Payment:
    """The merchant's own payment; another merchant's, or none, is not found alike."""
    payment = uow.payments.get(payment_id) if is_payment_id(payment_id) else None
    if payment is None or payment.merchant_id != merchant_id:
        raise PaymentNotFound(f"No payment {payment_id}.")
    return payment


def refunds_of(
    uow: UnitOfWork,
    merchant_id: str,
    payment_id: str,
    *,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[Refund]:
    payment = merchants_payment(uow, merchant_id, payment_id)
    return uow.refunds.for_payment(payment.id, after=after, limit=limit)


def reports_about(
    uow: UnitOfWork, merchant_id: str, payment_id: str, *, limit: int
) -> Sequence[StoredReport]:
    payment = merchants_payment(uow, merchant_id, payment_id)
    return uow.reports.for_payment(payment.id, limit)
