"""Building the payment service's events from domain objects."""

from __future__ import annotations

from typing import Any

from payevents import Envelope, new_event
from payment_service.domain.payment import Payment
from payment_service.domain.refund import Refund

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
