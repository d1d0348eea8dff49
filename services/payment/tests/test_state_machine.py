"""The payment and refund lifecycles: each status may become only what its table allows."""

from __future__ import annotations

import pytest

from payevents import statuses
from payment_service.domain.errors import IllegalTransition, PspContradiction
from payment_service.domain.payment import (
    PAYMENT_CORRECTIONS,
    PAYMENT_TRANSITIONS,
    Payment,
    PaymentStatus,
    StatusChange,
)
from payment_service.domain.psp import PspStatus
from payment_service.domain.refund import REFUND_TRANSITIONS, Refund, RefundStatus

P = PaymentStatus
R = RefundStatus

LIFECYCLE = {
    (P.CREATED, P.PROCESSING),
    (P.CREATED, P.CANCELED),
    (P.PROCESSING, P.SUCCEEDED),
    (P.PROCESSING, P.FAILED),
    (P.SUCCEEDED, P.PARTIALLY_REFUNDED),
    (P.SUCCEEDED, P.REFUNDED),
    (P.PARTIALLY_REFUNDED, P.PARTIALLY_REFUNDED),
    (P.PARTIALLY_REFUNDED, P.REFUNDED),
}
REFUND_LIFECYCLE = {(R.REQUESTED, R.SUCCEEDED), (R.REQUESTED, R.FAILED)}

# Nothing leads back to created or requested, so no method exists to try; the table tests below
# cover those targets.
PAYMENT_PAIRS = [(s, t) for s in P for t in P if t is not P.CREATED]
REFUND_PAIRS = [(s, t) for s in R for t in R if t is not R.REQUESTED]


def payment_in(status: PaymentStatus) -> Payment:
    """A payment of 1000 holding a reservation, so refund targets reach the state machine."""
    refunded = 400 if status is P.PARTIALLY_REFUNDED else 0
    return Payment(
        id="PAY_lifecycle",
        merchant_id="MER_1",
        amount=1000,
        currency="EUR",
        payment_method="pm_card_visa",
        status=status,
        refunded_amount=refunded,
        pending_refund_amount=1000 - refunded,
    )


def move(payment: Payment, target: PaymentStatus) -> None:
    """Ask for ``target`` through the one method that leads there."""
    if target is P.PROCESSING:
        payment.start_processing("ch_1")
    elif target is P.SUCCEEDED:
        payment.succeed("ch_1")
    elif target is P.FAILED:
        payment.fail("card_declined", "Card declined")
    elif target is P.CANCELED:
        payment.cancel()
    elif target is P.PARTIALLY_REFUNDED:
        payment.complete_refund(100)
    elif target is P.REFUNDED:
        payment.complete_refund(payment.pending_refund_amount)
    else:
        raise AssertionError(f"no method leads to {target}")


def refund_in(status: RefundStatus) -> Refund:
    return Refund(
        id="RFD_lifecycle",
        payment_id="PAY_lifecycle",
        merchant_id="MER_1",
        amount=500,
        currency="EUR",
        status=status,
    )


def move_refund(refund: Refund, target: RefundStatus) -> None:
    if target is R.SUCCEEDED:
        refund.succeed("re_1")
    elif target is R.FAILED:
        refund.fail("insufficient_balance")
    else:
        raise AssertionError(f"no method leads to {target}")


def test_the_payment_transition_table_is_the_documented_lifecycle() -> None:
    allowed = {(s, t) for s, targets in PAYMENT_TRANSITIONS.items() for t in targets}
    assert allowed == LIFECYCLE
    assert set(PAYMENT_TRANSITIONS) == set(P)


def test_the_refund_transition_table_is_the_documented_lifecycle() -> None:
    allowed = {(s, t) for s, targets in REFUND_TRANSITIONS.items() for t in targets}
    assert allowed == REFUND_LIFECYCLE
    assert set(REFUND_TRANSITIONS) == set(R)


@pytest.mark.parametrize(("status", "target"), PAYMENT_PAIRS)
def test_a_payment_moves_only_along_its_lifecycle(
    status: PaymentStatus, target: PaymentStatus
) -> None:
    payment = payment_in(status)

    if (status, target) in LIFECYCLE:
        move(payment, target)
        assert payment.status is target
    else:
        with pytest.raises(IllegalTransition) as refused:
            move(payment, target)
        assert payment.status is status
        assert (refused.value.current, refused.value.target) == (status, target)


@pytest.mark.parametrize(("status", "target"), REFUND_PAIRS)
def test_a_refund_moves_only_along_its_lifecycle(
    status: RefundStatus, target: RefundStatus
) -> None:
    refund = refund_in(status)

    if (status, target) in REFUND_LIFECYCLE:
        move_refund(refund, target)
        assert refund.status is target
    else:
        with pytest.raises(IllegalTransition):
            move_refund(refund, target)
        assert refund.status is status


def test_an_illegal_transition_names_the_entity_and_both_statuses() -> None:
    with pytest.raises(IllegalTransition, match="payment cannot go from failed to succeeded"):
        payment_in(P.FAILED).succeed()


def test_a_refused_failure_keeps_the_earlier_outcome() -> None:
    payment = payment_in(P.SUCCEEDED)

    with pytest.raises(IllegalTransition):
        payment.fail("card_declined", "too late")

    assert (payment.failure_code, payment.failure_message) == (None, None)


def test_a_failed_payment_records_the_psp_code_and_message() -> None:
    payment = payment_in(P.PROCESSING)

    payment.fail("insufficient_funds", "Not enough money")

    assert (payment.failure_code, payment.failure_message) == (
        "insufficient_funds",
        "Not enough money",
    )


def test_the_psp_reference_is_kept_when_a_later_step_does_not_repeat_it() -> None:
    payment = payment_in(P.CREATED)

    payment.start_processing("ch_1")
    payment.succeed()

    assert payment.psp_reference == "ch_1"


def test_a_refund_keeps_the_psp_reference_it_was_accepted_under() -> None:
    refund = refund_in(R.REQUESTED)

    refund.accepted_by_psp("re_1")
    refund.succeed()

    assert (refund.status, refund.psp_reference) == (R.SUCCEEDED, "re_1")


def test_only_the_psps_record_may_correct_a_final_outcome_and_only_to_the_other_one() -> None:
    assert {P.FAILED: {P.SUCCEEDED}, P.SUCCEEDED: {P.FAILED}} == PAYMENT_CORRECTIONS


def test_a_failed_payment_the_psp_charged_is_corrected_and_says_so() -> None:
    payment = payment_in(P.FAILED)

    assert payment.follow_psp(PspStatus.SUCCEEDED, None, correct=False) == []
    changes = payment.follow_psp(PspStatus.SUCCEEDED, None, correct=True)

    assert changes == [StatusChange(P.SUCCEEDED, corrected_from=P.FAILED)]
    assert (payment.status, payment.failure_code) == (P.SUCCEEDED, None)


def test_a_payment_with_refunds_is_never_corrected_to_failed() -> None:
    payment = payment_in(P.PARTIALLY_REFUNDED)

    with pytest.raises(PspContradiction):
        payment.follow_psp(PspStatus.FAILED, "card_declined", correct=True)

    assert payment.status is P.PARTIALLY_REFUNDED


def test_the_public_status_lists_are_the_lifecycles_statuses() -> None:
    """The gateway, the dashboard and payctl validate and filter by payevents' lists."""
    assert tuple(PaymentStatus) == statuses.PAYMENT_STATUSES
    assert tuple(RefundStatus) == statuses.REFUND_STATUSES
    charged, seen = {P.SUCCEEDED}, set()
    while charged - seen:  # everything a charged payment can become
        status = (charged - seen).pop()
        seen.add(status)
        charged |= PAYMENT_TRANSITIONS.get(status, frozenset())
    assert charged == statuses.PAID_PAYMENT_STATUSES
    ended = {s for s in PaymentStatus if not PAYMENT_TRANSITIONS.get(s)}
    assert ended - charged == statuses.UNPAID_PAYMENT_STATUSES
