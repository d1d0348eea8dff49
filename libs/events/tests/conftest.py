from __future__ import annotations

import copy
from typing import Any

import pytest

PAYMENT = {
    "payment_id": "PAY_123456",
    "merchant_id": "MER_42",
    "amount": 3000,
    "currency": "EUR",
}
REFUND = {**PAYMENT, "refund_id": "RFD_1", "amount": 1000}
PSP_STATUS = {
    "psp_event_id": "pspevt_9",
    "payment_id": "PAY_123456",
    "amount": 3000,
    "currency": "EUR",
    "received_at": "2025-03-01T10:00:00Z",
}
BATCH = {"batch_id": "BAT_7", "merchant_id": "MER_42", "currency": "EUR"}

VALID_DATA: dict[str, dict[str, Any]] = {
    "payment.created": {**PAYMENT, "payment_method": "pm_card_visa"},
    "payment.processing": {**PAYMENT, "psp_reference": "ch_1"},
    "payment.succeeded": {**PAYMENT, "psp_reference": "ch_1"},
    "payment.failed": {**PAYMENT, "failure_code": "card_declined"},
    "payment.canceled": {**PAYMENT, "cancellation_reason": "requested_by_merchant"},
    "refund.requested": {**REFUND, "reason": "customer returned the goods"},
    "refund.succeeded": {**REFUND},
    "refund.failed": {**REFUND, "failure_code": "psp_error"},
    "psp.payment_status_received": {**PSP_STATUS, "status": "succeeded"},
    "psp.refund_status_received": {**PSP_STATUS, "refund_id": "RFD_1", "status": "failed"},
    "psp.payout_status_received": {
        "payout_id": "po_1",
        "batch_id": "BAT_7",
        "attempt": 1,
        "merchant_id": "MER_42",
        "status": "failed",
        "amount": 98350,
        "currency": "EUR",
        "failure_code": "account_closed",
        "failure_message": "The beneficiary's bank account is closed.",
        "occurred_at": "2025-03-02T06:00:00Z",
    },
    "webhook_endpoint.disabled": {
        "endpoint_id": "we_1",
        "merchant_id": "MER_42",
        "reason": "failing",
        "failing_since": "2025-03-01T06:00:00Z",
        "disabled_at": "2025-03-04T06:00:00Z",
        "last_error": "connection_failed",
    },
    "ledger.transaction_posted": {
        "transaction_id": "txn_1",
        "kind": "payment",
        "merchant_id": "MER_42",
        "currency": "EUR",
        "payment_id": "PAY_123456",
        "entries": [
            {"account": "platform:psp_receivable", "direction": "debit", "amount": 3000},
            {"account": "merchant:MER_42:escrow", "direction": "credit", "amount": 3000},
        ],
    },
    "settlement.item_created": {
        "item_id": "itm_1",
        "merchant_id": "MER_42",
        "currency": "EUR",
        "kind": "payment",
        "amount": 3000,
        "fee_amount": 90,
        "payment_id": "PAY_123456",
        "ledger_transaction_id": "txn_1",
    },
    "settlement.batch_closed": {
        **BATCH,
        "period_start": "2025-03-01T00:00:00Z",
        "period_end": "2025-03-02T00:00:00Z",
        "item_count": 3,
        "gross_amount": 5000,
        "refunded_amount": 1000,
        "fee_amount": 150,
        "reversed_amount": 0,
        "fee_returned_amount": 0,
        "net_amount": 3850,
    },
    "settlement.batch_carried_forward": {
        **BATCH,
        "cutoff": "2026-01-02T00:00:00Z",
        "reason": "not_positive",
        "minimum_payout": 100,
        "item_count": 2,
        "gross_amount": 1000,
        "refunded_amount": 3000,
        "fee_amount": 150,
        "reversed_amount": 0,
        "fee_returned_amount": 0,
        "net_amount": -2150,
    },
    "settlement.batch_submitted": {**BATCH, "amount": 3850, "attempt": 1, "payout_id": "po_1"},
    "settlement.batch_paid": {**BATCH, "amount": 3850, "payout_id": "po_1", "attempt": 1},
    "settlement.batch_failed": {
        **BATCH,
        "amount": 3850,
        "failure_code": "account_closed",
        "attempt": 1,
    },
}


@pytest.fixture
def valid_data() -> dict[str, dict[str, Any]]:
    """A valid newest-version payload for every registered type, safe to modify."""
    return copy.deepcopy(VALID_DATA)


@pytest.fixture
def payment_created(valid_data: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return valid_data["payment.created"]
