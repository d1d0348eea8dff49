"""``ledger.transaction_posted`` v2: more kinds and the cause; every v1 message still reads."""

from __future__ import annotations

import json

import pytest

from payevents import InvalidEvent, decode, new_event

ENTRIES = [
    {"account": "psp_clearing", "direction": "debit", "amount": 1000},
    {"account": "merchant:MER_42:escrow", "direction": "credit", "amount": 1000},
]
FACTS = {"transaction_id": "ltx_1", "merchant_id": "MER_42", "currency": "EUR", "entries": ENTRIES}


def message(version: int, data: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "type": "ledger.transaction_posted",
            "version": version,
            "occurred_at": "2025-03-01T10:00:00Z",
            "source": "ledger-service",
            "subject": "MER_42",
            "correlation_id": "cor_1",
            "causation_id": None,
            "data": data,
        }
    ).encode()


def test_a_v1_transaction_reads_as_v2_without_a_cause() -> None:
    event = decode(message(1, {**FACTS, "kind": "payment", "payment_id": "PAY_1"}))

    assert event.version == 2
    assert event.data["kind"] == "payment"
    assert event.data["cause_event_id"] is None
    assert event.data["effective_at"] is None


@pytest.mark.parametrize("kind", ["settlement", "payment_reversal", "adjustment"])
def test_v2_names_every_kind_of_ledger_transaction_and_its_cause(kind: str) -> None:
    event = new_event(
        "ledger.transaction_posted",
        {
            **FACTS,
            "kind": kind,
            "cause_event_id": "evt_cause",
            "cause_type": "settlement.batch_closed",
            "effective_at": "2025-03-01T10:00:00+01:00",
        },
        source="ledger-service",
        subject="MER_42",
    )

    assert event.data["kind"] == kind
    assert event.data["effective_at"] == "2025-03-01T09:00:00.000000Z"


def test_v2_still_refuses_an_unbalanced_transaction() -> None:
    unbalanced = [ENTRIES[0], {**ENTRIES[1], "amount": 999}]
    with pytest.raises(InvalidEvent) as error:
        decode(message(2, {**FACTS, "kind": "adjustment", "entries": unbalanced}))

    assert error.value.reason == "schema_violation"
