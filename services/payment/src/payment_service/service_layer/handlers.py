"""The payment service's use cases, as plain functions over a unit of work.

Each function runs inside one database transaction owned by its caller (a request or a consumer
batch), so a state change and the event announcing it commit together or not at all.
"""

from __future__ import annotations

import structlog

from payevents import Envelope
from payment_service.domain.errors import IllegalTransition, PaymentNotFound
from payment_service.domain.payment import Payment, PaymentStatus, new_payment_id
from payment_service.domain.refund import Refund, RefundStatus, new_refund_id
from payment_service.service_layer.commands import CreatePayment, RequestRefund
from payment_service.service_layer.events import payment_event, refund_event
from payment_service.service_layer.provider import (
    ChargeResult,
    PaymentProvider,
    ProviderRejected,
)
from payment_service.service_layer.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


class UnknownPayment(Exception):
    """An event names a payment this service never created."""


def create_payment(command: CreatePayment, uow: UnitOfWork) -> Payment:
    payment = Payment(
        id=new_payment_id(),
        merchant_id=command.merchant_id,
        amount=command.amount,
        currency=command.currency,
        payment_method=command.payment_method,
        description=command.description,
        metadata=dict(command.metadata),
    )
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


def request_refund(command: RequestRefund, uow: UnitOfWork) -> Refund:
    payment = uow.payments.get_for_update(command.payment_id)
    if payment is None or payment.merchant_id != command.merchant_id:
        raise PaymentNotFound(command.payment_id)
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
    uow.refunds.add(refund)
    uow.payments.save(payment)
    uow.publish(
        refund_event(
            "refund.requested", refund, correlation_id=command.correlation_id, reason=command.reason
        )
    )
    return refund


def charge_payment(
    payment_id: str, uow: UnitOfWork, psp: PaymentProvider, causation: Envelope | None = None
) -> None:
    """Ask the PSP to charge a created payment; idempotent at the PSP by payment id."""
    payment = uow.payments.get_for_update(payment_id)
    if payment is None:
        raise UnknownPayment(payment_id)
    if payment.status is not PaymentStatus.CREATED:
        log.info("charge_skipped", payment_id=payment_id, status=payment.status)
        return
    try:
        result = psp.charge(payment)
    except ProviderRejected as rejected:
        result = ChargeResult(charge_id="", status="failed", failure_code=rejected.code)
    _apply_charge_status(
        payment,
        result.status,
        uow,
        causation,
        psp_reference=result.charge_id or None,
        failure_code=result.failure_code,
    )


def apply_payment_status(
    payment_id: str,
    status: str,
    uow: UnitOfWork,
    causation: Envelope | None = None,
    *,
    amount: int | None = None,
    psp_reference: str | None = None,
    failure_code: str | None = None,
) -> None:
    """Apply what the PSP says about a payment. Stale or contradicting news changes nothing."""
    payment = uow.payments.get_for_update(payment_id)
    if payment is None:
        raise UnknownPayment(payment_id)
    if amount is not None and amount != payment.amount:
        raise ValueError(f"PSP reports {amount} for {payment_id}, which is for {payment.amount}")
    _apply_charge_status(
        payment, status, uow, causation, psp_reference=psp_reference, failure_code=failure_code
    )


def _apply_charge_status(
    payment: Payment,
    status: str,
    uow: UnitOfWork,
    causation: Envelope | None,
    *,
    psp_reference: str | None,
    failure_code: str | None,
) -> None:
    before = payment.status
    try:
        if status in ("processing", "succeeded", "failed") and before is PaymentStatus.CREATED:
            payment.start_processing(psp_reference)
            uow.publish(
                payment_event(
                    "payment.processing",
                    payment,
                    causation=causation,
                    psp_reference=payment.psp_reference,
                )
            )
        if status == "succeeded":
            payment.succeed(psp_reference)
            uow.publish(
                payment_event(
                    "payment.succeeded",
                    payment,
                    causation=causation,
                    psp_reference=payment.psp_reference,
                )
            )
        elif status == "failed":
            payment.fail(failure_code or "psp_declined")
            uow.publish(
                payment_event(
                    "payment.failed",
                    payment,
                    causation=causation,
                    failure_code=payment.failure_code,
                    psp_reference=payment.psp_reference,
                )
            )
        elif status == "canceled":
            payment.cancel()
            uow.publish(
                payment_event(
                    "payment.canceled",
                    payment,
                    causation=causation,
                    cancellation_reason="canceled_by_psp",
                )
            )
    except IllegalTransition as stale:
        log.warning(
            "psp_status_ignored",
            payment_id=payment.id,
            reported=status,
            current=stale.current,
            reason="stale or contradicting status",
        )
    if payment.status is not before or psp_reference:
        uow.payments.save(payment)


def refund_at_psp(
    refund_id: str, uow: UnitOfWork, psp: PaymentProvider, causation: Envelope | None = None
) -> None:
    refund = uow.refunds.get_for_update(refund_id)
    if refund is None:
        raise UnknownPayment(refund_id)
    if refund.status is not RefundStatus.REQUESTED or refund.psp_reference:
        return
    payment = uow.payments.get(refund.payment_id)
    if payment is None or not payment.psp_reference:
        raise UnknownPayment(refund.payment_id)
    try:
        result = psp.refund(refund, payment.psp_reference)
    except ProviderRejected as rejected:
        apply_refund_status(refund.id, "failed", uow, causation, failure_code=rejected.code)
        return
    refund.accepted_by_psp(result.refund_id)
    uow.refunds.save(refund)
    if result.status in ("succeeded", "failed"):
        apply_refund_status(
            refund.id, result.status, uow, causation, failure_code=result.failure_code
        )


def apply_refund_status(
    refund_id: str | None,
    status: str,
    uow: UnitOfWork,
    causation: Envelope | None = None,
    *,
    psp_reference: str | None = None,
    failure_code: str | None = None,
) -> None:
    refund = uow.refunds.get_for_update(refund_id) if refund_id else None
    if refund is None and psp_reference:
        refund = uow.refunds.find_for_update_by_psp_reference(psp_reference)
    if refund is None:
        raise UnknownPayment(refund_id or psp_reference or "unknown refund")
    payment = uow.payments.get_for_update(refund.payment_id)
    if payment is None:
        raise UnknownPayment(refund.payment_id)
    if refund.status is not RefundStatus.REQUESTED or status not in ("succeeded", "failed"):
        log.warning(
            "psp_refund_status_ignored", refund_id=refund.id, reported=status, current=refund.status
        )
        return
    if status == "succeeded":
        refund.succeed(psp_reference)
        payment.complete_refund(refund.amount)
        uow.publish(
            refund_event(
                "refund.succeeded", refund, causation=causation, psp_reference=refund.psp_reference
            )
        )
    else:
        refund.fail(failure_code or "psp_declined")
        payment.release_refund(refund.amount)
        uow.publish(
            refund_event(
                "refund.failed",
                refund,
                causation=causation,
                failure_code=refund.failure_code,
                psp_reference=refund.psp_reference,
            )
        )
    uow.refunds.save(refund)
    uow.payments.save(payment)


def recheck_unsettled(
    uow: UnitOfWork, psp: PaymentProvider, *, older_than_seconds: float, limit: int = 50
) -> int:
    """The janitor: ask the PSP about payments stuck in created or processing.

    One payment the PSP cannot answer for is logged and left for the next pass; it never
    blocks the others.
    """
    rechecked = 0
    for payment in uow.payments.unsettled(PaymentStatus.CREATED, older_than_seconds, limit):
        charge_payment(payment.id, uow, psp)
        rechecked += 1
    for payment in uow.payments.unsettled(PaymentStatus.PROCESSING, older_than_seconds, limit):
        try:
            result = (
                psp.get_charge(payment.psp_reference)
                if payment.psp_reference
                else psp.charge(payment)
            )
        except ProviderRejected as rejected:
            if payment.psp_reference:
                log.error(
                    "janitor_charge_unknown_at_psp",
                    payment_id=payment.id,
                    psp_reference=payment.psp_reference,
                    code=rejected.code,
                )
                continue
            result = ChargeResult(charge_id="", status="failed", failure_code=rejected.code)
        _apply_charge_status(
            payment,
            result.status,
            uow,
            None,
            psp_reference=result.charge_id or None,
            failure_code=result.failure_code,
        )
        rechecked += 1
    return rechecked
