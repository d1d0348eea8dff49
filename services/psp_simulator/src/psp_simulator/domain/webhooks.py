"""The webhooks the provider sends: their bodies, byte for byte, and when each is due.

A body is serialised once, when it is planned, and those bytes are stored, signed and sent on
every attempt. Re-serialising per attempt could change the bytes, and a receiver that dedupes or
verifies signatures must see the very same message each time.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from psp_simulator.domain.charges import Charge, Refund

PAYMENT_STATUS: Final = "payment.status"
REFUND_STATUS: Final = "refund.status"

# Makes an id from a prefix, e.g. "evt" -> "evt_3f9a...".
NewId = Callable[[str], str]


class WebhookTarget(StrEnum):
    """Which of the platform's endpoints a webhook goes to: payments (and refunds) or payouts."""

    PAYMENTS = "payments"
    PAYOUTS = "payouts"


class WebhookStatus(StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Webhook:
    """One delivery to make. Two deliveries may carry the same event (a duplicate send)."""

    delivery_id: str
    event_id: str
    event_type: str
    payment_reference: str
    refund_reference: str | None
    due_at: float
    body: bytes
    target: WebhookTarget = WebhookTarget.PAYMENTS


def payment_status_body(
    event_id: str, charge: Charge, status: WebhookStatus, failure_code: str | None
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": PAYMENT_STATUS,
        "paymentRef": charge.reference,
        "status": status.value,
        "gatewayData": {
            "amount": charge.amount,
            "currency": charge.currency,
            "chargeId": charge.id,
            "failureCode": failure_code,
        },
    }


def refund_status_body(event_id: str, refund: Refund, status: WebhookStatus) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": REFUND_STATUS,
        "paymentRef": refund.payment_reference,
        "refundRef": refund.reference,
        "status": status.value,
        "gatewayData": {
            "amount": refund.amount,
            "currency": refund.currency,
            "chargeId": refund.charge_id,
            "refundId": refund.id,
        },
    }


def encode_body(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def plan_refund_webhooks(refund: Refund, new_id: NewId) -> tuple[Webhook, ...]:
    event_id = new_id("evt")
    body = refund_status_body(event_id, refund, WebhookStatus.SUCCESS)
    return (
        Webhook(
            delivery_id=new_id("dlv"),
            event_id=event_id,
            event_type=REFUND_STATUS,
            payment_reference=refund.payment_reference,
            refund_reference=refund.reference,
            due_at=refund.settles_at,
            body=encode_body(body),
        ),
    )
