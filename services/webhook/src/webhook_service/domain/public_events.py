"""The events merchants receive: a public shape of their own, versioned apart from the internal one.

Internal events change as the platform does (a field moves, a v3 appears); a merchant's
integration must not. So each public type picks, by name, the facts it promises, and a
change to what it promises is a new ``version`` of the public shape, never a silent edit.
Body of version 1 (the Standard Webhooks layout, plus the event id and the version)::

    {"id": "evt_…", "type": "payment.succeeded", "version": 1,
     "timestamp": "2026-03-14T06:00:00.500000Z", "data": {...}}

``id`` is the platform's event id: the same for every endpoint that receives it, so a
merchant with two endpoints can tell one fact from two. Internal fields not listed here (the
merchant id, ledger links, correlation ids) never leave the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from payevents import Envelope
from paykit.canonical import canonical_json

PUBLIC_EVENT_VERSION: Final = 1

_PAYMENT: Final = ("payment_id", "amount", "currency", "psp_reference")
_REFUND: Final = ("refund_id", "payment_id", "amount", "currency", "psp_reference")
_BATCH: Final = ("batch_id", "amount", "currency", "attempt", "payout_id")
_FAILURE: Final = ("failure_code", "failure_message")

# public type -> (status it announces, the internal fields it promises)
PUBLIC_FIELDS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "payment.succeeded": ("succeeded", (*_PAYMENT, "corrected_from")),
    "payment.failed": ("failed", (*_PAYMENT, *_FAILURE, "corrected_from")),
    "refund.succeeded": ("succeeded", _REFUND),
    "refund.failed": ("failed", (*_REFUND, *_FAILURE)),
    "settlement.batch_paid": ("paid", _BATCH),
    "settlement.batch_failed": ("failed", (*_BATCH, *_FAILURE)),
}
PUBLIC_EVENT_TYPES: Final = frozenset(PUBLIC_FIELDS)


@dataclass(frozen=True)
class PublicEvent:
    id: str
    type: str
    merchant_id: str
    body: bytes  # sent byte for byte on every attempt, so a signature covers what arrives


def public_event(envelope: Envelope) -> PublicEvent | None:
    """The merchant-facing event for an internal one, or None when merchants are not told."""
    shape = PUBLIC_FIELDS.get(envelope.type)
    if shape is None:
        return None
    status, promised = shape
    data: dict[str, Any] = {name: envelope.data.get(name) for name in promised}
    data["status"] = status
    body = {
        "id": envelope.id,
        "type": envelope.type,
        "version": PUBLIC_EVENT_VERSION,
        "timestamp": envelope.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": data,
    }
    return PublicEvent(
        id=envelope.id,
        type=envelope.type,
        merchant_id=str(envelope.data["merchant_id"]),
        body=canonical_json(body),
    )
