"""How domain objects are laid out in Redis hashes, and read back.

Times are stored as `repr` of the float (exact round trip); absent values as empty strings,
since a hash field cannot hold a null.
"""

from collections.abc import Mapping
from typing import Any

from redis.typing import EncodableT, FieldT

from psp_simulator.domain.charges import Charge, Refund, Status
from psp_simulator.domain.delivery import AttemptLogEntry, DeliveryRecord, DeliveryState
from psp_simulator.domain.payouts import Payout, PayoutStatus
from psp_simulator.domain.webhooks import Webhook

Fields = Mapping[str, str]


def text(value: object) -> str:
    """Redis answers str with decode_responses; the client's types also allow bytes."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a Redis string, got {type(value).__name__}")


def optional_text(value: object) -> str | None:
    return None if value is None else text(value)


def text_fields(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {text(key): text(value) for key, value in raw.items()}


def hash_mapping(fields: Mapping[str, str]) -> dict[FieldT, EncodableT]:
    """The client's HSET wants its own key type; the fields are plain strings either way."""
    return {key: value for key, value in fields.items()}


def _time(value: float) -> str:
    return repr(float(value))


def _or_empty(value: object | None) -> str:
    return "" if value is None else str(value)


def _or_none(value: str) -> str | None:
    return value or None


def _optional_float(value: str) -> float | None:
    return float(value) if value else None


def _optional_int(value: str) -> int | None:
    return int(value) if value else None


def charge_fields(charge: Charge) -> dict[str, str]:
    return {
        "id": charge.id,
        "reference": charge.reference,
        "amount": str(charge.amount),
        "currency": charge.currency,
        "payment_method": charge.payment_method,
        "outcome": charge.outcome.value,
        "failure_code": _or_empty(charge.failure_code),
        "created_at": _time(charge.created_at),
        "settles_at": _time(charge.settles_at),
        "refunded_amount": str(charge.refunded_amount),
    }


def charge_from(fields: Fields) -> Charge:
    return Charge(
        id=fields["id"],
        reference=fields["reference"],
        amount=int(fields["amount"]),
        currency=fields["currency"],
        payment_method=fields["payment_method"],
        outcome=Status(fields["outcome"]),
        failure_code=_or_none(fields["failure_code"]),
        created_at=float(fields["created_at"]),
        settles_at=float(fields["settles_at"]),
        refunded_amount=int(fields["refunded_amount"]),
    )


def refund_fields(refund: Refund) -> dict[str, str]:
    return {
        "id": refund.id,
        "charge_id": refund.charge_id,
        "payment_reference": refund.payment_reference,
        "reference": refund.reference,
        "amount": str(refund.amount),
        "currency": refund.currency,
        "created_at": _time(refund.created_at),
        "settles_at": _time(refund.settles_at),
    }


def refund_from(fields: Fields) -> Refund:
    return Refund(
        id=fields["id"],
        charge_id=fields["charge_id"],
        payment_reference=fields["payment_reference"],
        reference=fields["reference"],
        amount=int(fields["amount"]),
        currency=fields["currency"],
        created_at=float(fields["created_at"]),
        settles_at=float(fields["settles_at"]),
    )


def payout_fields(payout: Payout) -> dict[str, str]:
    return {
        "id": payout.id,
        "batch_id": payout.batch_id,
        "attempt": str(payout.attempt),
        "merchant_id": payout.merchant_id,
        "amount": str(payout.amount),
        "currency": payout.currency,
        "bank_account": payout.bank_account,
        "outcome": payout.outcome.value,
        "failure_code": _or_empty(payout.failure_code),
        "failure_message": _or_empty(payout.failure_message),
        "created_at": _time(payout.created_at),
        "decided_at": _time(payout.decided_at),
    }


def payout_from(fields: Fields) -> Payout:
    return Payout(
        id=fields["id"],
        batch_id=fields["batch_id"],
        attempt=int(fields["attempt"]),
        merchant_id=fields["merchant_id"],
        amount=int(fields["amount"]),
        currency=fields["currency"],
        bank_account=fields["bank_account"],
        outcome=PayoutStatus(fields["outcome"]),
        failure_code=_or_none(fields["failure_code"]),
        failure_message=_or_none(fields["failure_message"]),
        created_at=float(fields["created_at"]),
        decided_at=float(fields["decided_at"]),
    )


def delivery_fields(webhook: Webhook) -> dict[str, str]:
    return {
        "id": webhook.delivery_id,
        "event_id": webhook.event_id,
        "event_type": webhook.event_type,
        "payment_reference": webhook.payment_reference,
        "refund_reference": _or_empty(webhook.refund_reference),
        "target": webhook.target.value,
        "body": webhook.body.decode("ascii"),
        "state": DeliveryState.SCHEDULED.value,
        "attempts": "0",
        "first_due_at": _time(webhook.due_at),
        "next_attempt_at": _time(webhook.due_at),
        "delivered_at": "",
        "last_status": "",
        "last_error": "",
    }


def delivery_from(fields: Fields, attempt_log: tuple[AttemptLogEntry, ...]) -> DeliveryRecord:
    return DeliveryRecord(
        id=fields["id"],
        event_id=fields["event_id"],
        event_type=fields["event_type"],
        payment_reference=fields["payment_reference"],
        refund_reference=_or_none(fields.get("refund_reference", "")),
        state=DeliveryState(fields["state"]),
        attempts=int(fields["attempts"]),
        first_due_at=float(fields["first_due_at"]),
        next_attempt_at=_optional_float(fields.get("next_attempt_at", "")),
        delivered_at=_optional_float(fields.get("delivered_at", "")),
        last_status_code=_optional_int(fields.get("last_status", "")),
        last_error=_or_none(fields.get("last_error", "")),
        body=fields["body"].encode("ascii"),
        attempt_log=attempt_log,
    )
