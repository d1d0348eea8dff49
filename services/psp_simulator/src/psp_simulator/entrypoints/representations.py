"""The JSON the simulator answers with."""

import json
from datetime import UTC, datetime
from typing import Any

from payevents.fieldtypes import format_utc
from psp_simulator.domain.delivery import DeliveryRecord
from psp_simulator.service_layer.charges import ChargeReceipt
from psp_simulator.service_layer.faults import FaultSettings, HangState
from psp_simulator.service_layer.payouts import PayoutReceipt
from psp_simulator.service_layer.refunds import RefundReceipt


def timestamp(seconds: float | None) -> str | None:
    return None if seconds is None else format_utc(datetime.fromtimestamp(seconds, UTC))


def charge_json(receipt: ChargeReceipt) -> dict[str, Any]:
    charge, now = receipt.charge, receipt.seen_at
    return {
        "id": charge.id,
        "reference": charge.reference,
        "amount": charge.amount,
        "currency": charge.currency,
        "status": charge.status_at(now).value,
        "failure_code": charge.failure_code_at(now),
        "created_at": timestamp(charge.created_at),
    }


def refund_json(receipt: RefundReceipt) -> dict[str, Any]:
    refund = receipt.refund
    return {
        "id": refund.id,
        "charge_id": refund.charge_id,
        "reference": refund.reference,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status_at(receipt.seen_at).value,
        "created_at": timestamp(refund.created_at),
    }


def payout_json(receipt: PayoutReceipt) -> dict[str, Any]:
    payout, now = receipt.payout, receipt.seen_at
    decided = payout.is_decided_at(now)
    return {
        "id": payout.id,
        "status": payout.status_at(now).value,
        "batch_id": payout.batch_id,
        "attempt": payout.attempt,
        "merchant_id": payout.merchant_id,
        "amount": payout.amount,
        "currency": payout.currency,
        "bank_account": payout.bank_account,
        "failure_code": payout.failure_code if decided else None,
        "failure_message": payout.failure_message if decided else None,
        "created_at": timestamp(payout.created_at),
        "decided_at": timestamp(payout.decided_at) if decided else None,
    }


def faults_json(settings: FaultSettings, hangs: HangState) -> dict[str, Any]:
    return {
        "latency_ms": settings.faults.latency_ms,
        "error_rate": settings.faults.error_rate,
        "down": settings.faults.down,
        "silent": settings.faults.silent,
        "hang_ms": settings.faults.hang_ms,
        "hang_calls": settings.faults.hang_calls,
        "hang_payment_method": settings.faults.hang_payment_method,
        "hang_calls_left": hangs.left,
        "hanging": hangs.hanging,
        "source": settings.source,
    }


def delivery_json(record: DeliveryRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "event_id": record.event_id,
        "type": record.event_type,
        "payment_reference": record.payment_reference,
        "refund_reference": record.refund_reference,
        "state": record.state.value,
        "attempts": record.attempts,
        "first_due_at": timestamp(record.first_due_at),
        "next_attempt_at": timestamp(record.next_attempt_at),
        "delivered_at": timestamp(record.delivered_at),
        "last_status_code": record.last_status_code,
        "last_error": record.last_error,
        "attempt_log": [
            {"at": timestamp(entry.at), "status_code": entry.status_code, "error": entry.error}
            for entry in record.attempt_log
        ],
        "body": json.loads(record.body),
    }
