"""Corrections: ``payment.succeeded`` v2 and ``payment.failed`` v2 may say which status they
overturn; every older message still reads, as an ordinary (uncorrected) event."""

from __future__ import annotations

import json

import pytest

from payevents import InvalidEvent, decode, new_event

FACTS = {"payment_id": "PAY_123456", "merchant_id": "MER_42", "amount": 3000, "currency": "EUR"}


def message(event_type: str, version: int, data: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "id": "evt_1",
            "type": event_type,
            "version": version,
            "occurred_at": "2025-03-01T10:00:00Z",
            "source": "payment",
            "subject": "PAY_123456",
            "correlation_id": "cor_1",
            "causation_id": None,
            "data": data,
        }
    ).encode()


@pytest.mark.parametrize(
    ("event_type", "extra"),
    [("payment.succeeded", {}), ("payment.failed", {"failure_code": "card_declined"})],
)
def test_a_v1_event_reads_as_an_uncorrected_v2_event(
    event_type: str, extra: dict[str, object]
) -> None:
    event = decode(message(event_type, 1, {**FACTS, **extra}))

    assert event.version == 2
    assert event.data["corrected_from"] is None


def test_a_success_may_name_the_failure_it_corrects() -> None:
    event = new_event(
        "payment.succeeded", {**FACTS, "corrected_from": "failed"}, source="payment", subject="x"
    )

    assert event.data["corrected_from"] == "failed"


@pytest.mark.parametrize(
    ("event_type", "extra"),
    [
        ("payment.succeeded", {"corrected_from": "succeeded"}),
        ("payment.failed", {"failure_code": "card_declined", "corrected_from": "failed"}),
    ],
)
def test_a_correction_can_only_overturn_the_opposite_outcome(
    event_type: str, extra: dict[str, object]
) -> None:
    with pytest.raises(InvalidEvent):
        decode(message(event_type, 2, {**FACTS, **extra}))
