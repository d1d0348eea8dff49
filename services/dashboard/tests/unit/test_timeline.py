"""A payment's steps from what the public API shows of it, its batch and its posting."""

from __future__ import annotations

from typing import Any

from dashboard_service.domain.timeline import Journey, StepState, is_posting_of, item_for_payment

PAYMENT: dict[str, Any] = {
    "id": "PAY_1",
    "status": "succeeded",
    "amount": 3000,
    "currency": "EUR",
    "created_at": "2026-12-01T10:00:00Z",
    "updated_at": "2026-12-01T10:00:05Z",
}
POSTING = {"transaction_id": "ltx_1", "kind": "payment", "recorded_at": "2026-12-01T10:00:06Z"}


def _states(journey: Journey) -> list[tuple[str, StepState]]:
    return [(step.name, step.state) for step in journey.steps()]


def test_a_new_payment_waits_for_processing() -> None:
    assert _states(Journey({**PAYMENT, "status": "created"})) == [
        ("created", StepState.DONE),
        ("processing", StepState.WAITING),
    ]


def test_a_declined_payment_ends_failed_with_its_reason() -> None:
    failed = {**PAYMENT, "status": "failed", "failure_message": "Your card was declined."}
    steps = Journey(failed).steps()
    assert [s.name for s in steps] == ["created", "processing", "failed"]
    assert steps[-1].state is StepState.FAILED and steps[-1].detail == "Your card was declined."


def test_a_succeeded_payment_not_found_in_the_ledger_yet_says_so() -> None:
    states = dict(_states(Journey(PAYMENT)))
    assert states["succeeded"] is StepState.DONE
    assert states["posted to the ledger"] is StepState.WAITING
    assert states["in a settlement batch"] is StepState.WAITING


def test_a_paid_batch_completes_the_journey() -> None:
    batch = {"id": "stb_1", "status": "paid", "created_at": "x", "updated_at": "y"}
    journey = Journey({**PAYMENT, "status": "partially_refunded"}, batch, POSTING)
    assert all(state is StepState.DONE for _, state in _states(journey))
    assert journey.steps()[3].detail == "transaction ltx_1"
    assert journey.steps()[4].link == "stb_1"


def test_a_refused_payout_is_a_failed_last_step() -> None:
    batch = {"id": "stb_1", "status": "failed"}
    assert _states(Journey(PAYMENT, batch, POSTING))[-1] == ("payout failed", StepState.FAILED)


def test_the_batch_item_of_the_payment_is_its_payment_item_not_a_refund_of_it() -> None:
    refund = {"kind": "refund", "payment_id": "PAY_1", "ledger_transaction_id": "ltx_9"}
    paid = {"kind": "payment", "payment_id": "PAY_1", "ledger_transaction_id": "ltx_1"}
    assert item_for_payment({"items": [refund, paid]}, "PAY_1") == paid
    assert item_for_payment({"items": [refund]}, "PAY_1") is None


def test_a_posting_is_known_by_its_transaction_or_by_an_entry_naming_the_payment() -> None:
    assert is_posting_of(POSTING, "PAY_1", "ltx_1")
    assert not is_posting_of(POSTING, "PAY_1", "ltx_2")
    assert is_posting_of({"kind": "payment", "payment_id": "PAY_1"}, "PAY_1", None)
    assert not is_posting_of({"kind": "refund", "transaction_id": "ltx_1"}, "PAY_1", "ltx_1")
