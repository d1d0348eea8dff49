"""The PSP's webhook bodies, read into one normalised notification.

Two shapes arrive. The PSP's event body carries an ``id`` and a ``type``; the legacy body is just
``{"paymentRef", "status", "gatewayData"}``. A legacy body is a payment status, and its event id
is derived from the facts that identify it (see ``derived_event_id``), so the PSP's retries of
one legacy notification are deduplicated exactly like retries of an event body.

Fields we do not use are ignored rather than refused: the PSP may add fields at any time, and
refusing them would stall every webhook until we deploy. Fields we do use are validated with the
same rules as the event they become, so an accepted webhook always yields a valid event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from marshmallow import EXCLUDE, Schema, ValidationError, fields

from payevents import fieldtypes as f
from payevents.errors import flatten_messages
from paykit.canonical import digest
from webhook_service.domain.errors import InvalidWebhookBody, UnknownEventType, UnknownStatus
from webhook_service.domain.json_body import load_json_object

PAYMENT_STATUS: Final = "payment.status"
REFUND_STATUS: Final = "refund.status"
EVENT_TYPES: Final[Mapping[str, str]] = {
    PAYMENT_STATUS: "psp.payment_status_received",
    REFUND_STATUS: "psp.refund_status_received",
}
# The PSP's spelling -> the platform's. Matching is exact: a status we do not know is refused,
# never guessed, because a guessed "paid" is money lost.
STATUS_VOCABULARY: Final[Mapping[str, str]] = {"SUCCESS": "succeeded", "FAILED": "failed"}
LEGACY_EVENT_ID_PREFIX: Final = "lgc_"
_IDENTIFYING_FIELDS: Final = ("type", "paymentRef", "refundRef", "status")
_IDENTIFYING_GATEWAY_FIELDS: Final = ("amount", "currency", "chargeId", "refundId")


class _GatewayData(Schema):
    class Meta:
        unknown = EXCLUDE

    amount = f.amount("Amount in minor units.", optional=True)
    currency = f.currency(optional=True)
    chargeId = f.identifier("The PSP's charge id.", optional=True)
    refundId = f.identifier("The PSP's refund id.", optional=True)
    failureCode = f.code("Why the PSP failed the payment or refund.", optional=True)


class _WebhookBody(Schema):
    class Meta:
        unknown = EXCLUDE

    id = f.identifier("The PSP's event id; absent from legacy bodies.", optional=True)
    type = f.Text(load_default=None)
    paymentRef = f.payment_id("The platform's payment reference.")
    refundRef = f.identifier("The platform's refund reference.", optional=True)
    status = f.Text(required=True)
    gatewayData = fields.Nested(_GatewayData, load_default=None)


_BODY_SCHEMA: Final = _WebhookBody()


@dataclass(frozen=True, slots=True)
class PspNotification:
    """One status report from the PSP, in the platform's vocabulary."""

    psp_event_id: str
    psp_event_type: str
    payment_id: str
    status: str
    amount: int | None = None
    currency: str | None = None
    psp_reference: str | None = None
    failure_code: str | None = None
    refund_id: str | None = None
    event_id_derived: bool = False

    @property
    def event_type(self) -> str:
        return EVENT_TYPES[self.psp_event_type]

    def event_data(self, received_at: datetime) -> dict[str, Any]:
        """The data of the normalised ``psp.*_status_received`` event."""
        data: dict[str, Any] = {
            "psp_event_id": self.psp_event_id,
            "payment_id": self.payment_id,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
            "received_at": f.format_utc(received_at),
            "psp_reference": self.psp_reference,
            "failure_code": self.failure_code,
        }
        if self.psp_event_type == REFUND_STATUS:
            data["refund_id"] = self.refund_id
        return data

    @property
    def subject(self) -> str:
        """The payment: the event's subject and key, so one payment's reports stay in order."""
        return self.payment_id

    def log_facts(self) -> dict[str, Any]:
        """The delivery log's columns: every field under its own name."""
        return {**dataclasses.asdict(self), "batch_id": None}


NOTIFICATION_FIELDS: Final = tuple(field.name for field in dataclasses.fields(PspNotification))
# Every column of the delivery log a notification fills.
LOGGED_FIELDS: Final = (*NOTIFICATION_FIELDS, "batch_id")


class _Loggable(Protocol):
    def log_facts(self) -> dict[str, Any]: ...


def notification_facts(notification: _Loggable | None) -> dict[str, Any]:
    """The notification's logged fields by name; all None for a delivery without one."""
    if notification is None:
        return dict.fromkeys(LOGGED_FIELDS)
    return notification.log_facts()


def parse_notification(raw: bytes, *, max_depth: int) -> PspNotification:
    """Read a (verified) raw body; raise a ``WebhookRejected`` saying what is wrong with it."""
    body = load_json_object(raw, max_depth=max_depth)
    try:
        loaded: dict[str, Any] = _BODY_SCHEMA.load(body)
    except ValidationError as error:
        errors = flatten_messages(error.messages)
        fields_named = ", ".join(sorted(errors))
        raise InvalidWebhookBody(
            f"The webhook body has invalid fields: {fields_named}.", errors=errors
        ) from None
    psp_event_type = loaded["type"] or PAYMENT_STATUS
    if psp_event_type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise UnknownEventType(
            f"Event type {psp_event_type[:64]!r} is not one we handle; known types: {known}."
        )
    status = STATUS_VOCABULARY.get(loaded["status"])
    if status is None:
        known = ", ".join(sorted(STATUS_VOCABULARY))
        raise UnknownStatus(
            f"Status {loaded['status'][:64]!r} is not one we handle; known statuses: {known}."
        )
    gateway: dict[str, Any] = loaded["gatewayData"] or {}
    is_refund = psp_event_type == REFUND_STATUS
    return PspNotification(
        psp_event_id=loaded["id"] or derived_event_id(loaded),
        psp_event_type=psp_event_type,
        payment_id=loaded["paymentRef"],
        status=status,
        amount=gateway.get("amount"),
        currency=gateway.get("currency"),
        psp_reference=gateway.get("refundId" if is_refund else "chargeId"),
        failure_code=gateway.get("failureCode"),
        refund_id=loaded["refundRef"] if is_refund else None,
        event_id_derived=loaded["id"] is None,
    )


def derived_event_id(loaded: Mapping[str, Any]) -> str:
    """``lgc_`` + the first 40 hex digits of the canonical digest of what identifies the report.

    Only the facts that make one notification (its type, references, status, amount, currency
    and the PSP's charge or refund id, those the body has) go in: a sender that adds a
    per-attempt field (``attempt``, ``sentAt``) or reformats the body still retries the same
    notification. The signature timestamp is left out because a retry is re-signed. Two reports
    with the same facts therefore count as one notification.
    """
    gateway: Mapping[str, Any] = loaded.get("gatewayData") or {}
    facts = {name: loaded.get(name) for name in _IDENTIFYING_FIELDS}
    facts["type"] = facts["type"] or PAYMENT_STATUS
    facts.update((name, gateway.get(name)) for name in _IDENTIFYING_GATEWAY_FIELDS)
    present = {name: value for name, value in facts.items() if value is not None}
    return f"{LEGACY_EVENT_ID_PREFIX}{digest(present)[:40]}"
