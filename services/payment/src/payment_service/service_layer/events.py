"""Building the payment service's events from domain objects."""

from __future__ import annotations

from typing import Any

from payevents import Envelope, new_event
from payment_service.domain.payment import Payment, PaymentStatus, StatusChange
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.service_layer.unit_of_work import UnitOfWork

SOURCE = "payment"


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def payment_event(
    event_type: str,
    payment: Payment,
    *,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    **extra: Any,
) -> Envelope:
    return new_event(
        event_type,
        _clean({**payment.facts(), **extra}),
        source=SOURCE,
        subject=payment.id,
        correlation_id=None if causation else correlation_id,
        causation=causation,
    )


def refund_event(
    event_type: str,
    refund: Refund,
    *,
    correlation_id: str | None = None,
    causation: Envelope | None = None,
    **extra: Any,
) -> Envelope:
    return new_event(
        event_type,
        _clean({**refund.facts(), **extra}),
        source=SOURCE,
        subject=refund.payment_id,
        correlation_id=None if causation else correlation_id,
        causation=causation,
    )


def announce_payment_changes(
    uow: UnitOfWork,
    payment: Payment,
    changes: list[StatusChange],
    causation: Envelope | None = None,
) -> None:
    """One event per step the payment took, in order, committed with the step."""
    for change in changes:
        corrected_from = change.corrected_from.value if change.corrected_from else None
        if change.status is PaymentStatus.PROCESSING:
            event = payment_event(
                "payment.processing",
                payment,
                causation=causation,
                psp_reference=payment.psp_reference,
            )
        elif change.status is PaymentStatus.SUCCEEDED:
            event = payment_event(
                "payment.succeeded",
                payment,
                causation=causation,
                psp_reference=payment.psp_reference,
                corrected_from=corrected_from,
            )
        elif change.status is PaymentStatus.FAILED:
            event = payment_event(
                "payment.failed",
                payment,
                causation=causation,
                failure_code=payment.failure_code,
                psp_reference=payment.psp_reference,
                corrected_from=corrected_from,
            )
        else:
            event = payment_event(
                "payment.canceled",
                payment,
                causation=causation,
                cancellation_reason="canceled_by_psp",
            )
        uow.publish(event)


def announce_refund_outcome(
    uow: UnitOfWork, refund: Refund, causation: Envelope | None = None
) -> None:
    if refund.status is RefundStatus.SUCCEEDED:
        uow.publish(
            refund_event(
                "refund.succeeded", refund, causation=causation, psp_reference=refund.psp_reference
            )
        )
    elif refund.status is RefundStatus.FAILED:
        uow.publish(
            refund_event(
                "refund.failed",
                refund,
                causation=causation,
                failure_code=refund.failure_code,
                psp_reference=refund.psp_reference,
            )
        )
