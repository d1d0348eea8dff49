"""The bank's payout webhooks (sent by the PSP, which plays the bank), read into a notification.

A payout has one outcome, so a webhook is identified by its type and payout id: the bank's
retries of one report deduplicate, and a contradicting report is a different notification that
the settlement service judges. As with payment webhooks, fields we use are validated with the
event's own rules and fields we do not use are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from marshmallow import EXCLUDE, Schema, ValidationError

from payevents import fieldtypes as f
from payevents.errors import flatten_messages
from webhook_service.domain.errors import InvalidWebhookBody, UnknownEventType
from webhook_service.domain.json_body import load_json_object
from webhook_service.domain.notifications import PspNotification

PAYOUT_EVENT_TYPE: Final = "psp.payout_status_received"
# The bank's webhook type -> the payout's status in the platform's vocabulary.
PAYOUT_STATUSES: Final[Mapping[str, str]] = {"payout.paid": "paid", "payout.failed": "failed"}


class _PayoutWebhookBody(Schema):
    class Meta:
        unknown = EXCLUDE

    type = f.Text(required=True)
    payout_id = f.identifier("The bank's payout id.")
    batch_id = f.identifier("The settlement batch paid.")
    attempt = f.attempt("Which attempt at paying the batch.")
    merchant_id = f.identifier("The merchant paid.")
    amount = f.amount("Amount in minor units.")
    currency = f.currency()
    failure_code = f.code("Why the bank failed the payout.", optional=True)
    failure_message = f.free_text("The bank's explanation.")
    occurred_at = f.timestamp("When the bank decided the payout.")


_BODY_SCHEMA: Final = _PayoutWebhookBody()


@dataclass(frozen=True, slots=True)
class PayoutNotification:
    psp_event_id: str
    psp_event_type: str
    payout_id: str
    batch_id: str
    attempt: int
    merchant_id: str
    status: str
    amount: int
    currency: str
    failure_code: str | None
    failure_message: str | None
    occurred_at: datetime

    @property
    def event_type(self) -> str:
        return PAYOUT_EVENT_TYPE

    @property
    def subject(self) -> str:
        """The batch: the event's subject and key, so one batch's outcomes stay in order."""
        return self.batch_id

    def event_data(self, received_at: datetime) -> dict[str, Any]:
        return {
            "payout_id": self.payout_id,
            "batch_id": self.batch_id,
            "attempt": self.attempt,
            "merchant_id": self.merchant_id,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "failure_code": self.failure_code,
            "failure_message": self.failure_message,
            "occurred_at": f.format_utc(self.occurred_at),
        }

    def log_facts(self) -> dict[str, Any]:
        """The delivery log's columns; the rest is read back from the stored body."""
        return {
            "psp_event_id": self.psp_event_id,
            "psp_event_type": self.psp_event_type,
            "payment_id": None,
            "refund_id": None,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "psp_reference": self.payout_id,
            "failure_code": self.failure_code,
            "event_id_derived": True,
            "batch_id": self.batch_id,
        }


Notification = PspNotification | PayoutNotification


def parse_payout_notification(raw: bytes, *, max_depth: int) -> PayoutNotification:
    """Read a (verified) raw body; raise a ``WebhookRejected`` saying what is wrong with it."""
    body = load_json_object(raw, max_depth=max_depth)
    try:
        loaded: dict[str, Any] = _BODY_SCHEMA.load(body)
    except ValidationError as error:
        errors = flatten_messages(error.messages)
        raise InvalidWebhookBody(
            f"The payout webhook has invalid fields: {', '.join(sorted(errors))}.", errors=errors
        ) from None
    webhook_type = loaded["type"]
    status = PAYOUT_STATUSES.get(webhook_type)
    if status is None:
        known = ", ".join(sorted(PAYOUT_STATUSES))
        raise UnknownEventType(
            f"Payout webhook type {webhook_type[:64]!r} is not one we handle; known: {known}."
        )
    return PayoutNotification(
        psp_event_id=f"{webhook_type}:{loaded['payout_id']}",
        psp_event_type=webhook_type,
        payout_id=loaded["payout_id"],
        batch_id=loaded["batch_id"],
        attempt=loaded["attempt"],
        merchant_id=loaded["merchant_id"],
        status=status,
        amount=loaded["amount"],
        currency=loaded["currency"],
        failure_code=loaded["failure_code"],
        failure_message=loaded["failure_message"],
        occurred_at=loaded["occurred_at"],
    )


def is_payout_type(psp_event_type: str | None) -> bool:
    return psp_event_type in PAYOUT_STATUSES
