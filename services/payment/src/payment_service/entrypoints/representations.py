"""How payments, refunds and PSP reports look over HTTP, and the paging cursors."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any

from payment_service.domain.payment import Payment
from payment_service.domain.refund import Refund
from payment_service.service_layer.unit_of_work import StoredReport

_CURSOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "object": "payment",
        "status": payment.status.value,
        "amount": payment.amount,
        "currency": payment.currency,
        "merchant_id": payment.merchant_id,
        "payment_method": payment.payment_method,
        "description": payment.description,
        "metadata": payment.metadata,
        "amount_refunded": payment.refunded_amount,
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "created_at": _time(payment.created_at),
        "updated_at": _time(payment.updated_at),
    }


def refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "object": "refund",
        "payment_id": refund.payment_id,
        "status": refund.status.value,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason,
        "failure_code": refund.failure_code,
        "created_at": _time(refund.created_at),
        "updated_at": _time(refund.updated_at),
    }


def report_view(stored: StoredReport) -> dict[str, Any]:
    report, judgement = stored.report, stored.judgement
    return {
        "object": "psp_report",
        "source": report.source.value,
        "psp_event_id": report.event_id,
        "payment_id": report.payment_id,
        "refund_id": report.refund_id,
        "status": report.status.value,
        "amount": report.amount,
        "currency": report.currency,
        "psp_reference": report.psp_reference,
        "failure_code": report.failure_code,
        "verdict": judgement.verdict.value,
        "reason": judgement.reason,
        "recorded_at": _time(stored.recorded_at),
    }


def encode_cursor(created_at: datetime | None, object_id: str) -> str:
    """Where the next page starts: after (created_at, id) of the last object shown."""
    assert created_at is not None
    raw = json.dumps([created_at.isoformat(), object_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for anything that is not a cursor this service made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, object_id = json.loads(raw)
        moment = datetime.fromisoformat(created_at)
    except (binascii.Error, ValueError, TypeError) as error:
        raise ValueError("malformed cursor") from error
    if moment.tzinfo is None or not isinstance(object_id, str):
        raise ValueError("malformed cursor")
    if _CURSOR_ID.fullmatch(object_id) is None:
        raise ValueError("malformed cursor")
    return moment, object_id
