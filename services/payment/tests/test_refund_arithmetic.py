"""Refund arithmetic: refunds in flight and refunds done never exceed what was captured."""

from __future__ import annotations

import pytest

from payment_service.domain.errors import PaymentNotRefundable, RefundExceedsCaptured
from payment_service.domain.payment import REFUNDABLE, Payment, PaymentStatus


def captured(amount: int = 1000) -> Payment:
    payment = Payment(
        id="PAY_arithmetic",
        merchant_id="MER_1",
        amount=amount,
        currency="EUR",
        payment_method="pm_card_visa",
    )
    payment.start_processing("ch_1")
    payment.succeed()
    return payment


def status_of(payment: Payment) -> PaymentStatus:
    """Read afresh, so the type checker does not carry an earlier assertion over a change."""
    return payment.status


def refunded(payment: Payment, amount: int) -> None:
    payment.reserve_refund(amount)
    payment.complete_refund(amount)


def test_a_full_refund_leaves_the_payment_refunded_with_nothing_left() -> None:
    payment = captured(1000)

    refunded(payment, 1000)

    assert status_of(payment) is PaymentStatus.REFUNDED
    assert (payment.refunded_amount, payment.pending_refund_amount) == (1000, 0)
    assert payment.refundable_amount == 0


def test_a_partial_refund_then_the_rest_ends_refunded() -> None:
    payment = captured(1000)

    refunded(payment, 300)
    assert status_of(payment) is PaymentStatus.PARTIALLY_REFUNDED
    assert payment.refundable_amount == 700

    refunded(payment, 700)
    assert status_of(payment) is PaymentStatus.REFUNDED
    assert payment.refunded_amount == 1000


def test_several_partial_refunds_stay_partially_refunded_until_the_last_cent() -> None:
    payment = captured(1000)

    for _ in range(3):
        refunded(payment, 333)

    assert status_of(payment) is PaymentStatus.PARTIALLY_REFUNDED
    assert payment.refundable_amount == 1

    refunded(payment, 1)
    assert status_of(payment) is PaymentStatus.REFUNDED


def test_a_refund_larger_than_the_captured_amount_is_rejected() -> None:
    payment = captured(1000)

    with pytest.raises(RefundExceedsCaptured):
        payment.reserve_refund(1001)

    assert payment.pending_refund_amount == 0
    assert payment.refundable_amount == 1000


def test_a_refund_larger_than_what_is_left_is_rejected() -> None:
    payment = captured(1000)
    refunded(payment, 600)

    with pytest.raises(RefundExceedsCaptured):
        payment.reserve_refund(401)

    assert payment.refundable_amount == 400


def test_refunds_still_at_the_psp_count_against_what_is_left() -> None:
    payment = captured(1000)
    payment.reserve_refund(600)

    assert payment.refundable_amount == 400
    with pytest.raises(RefundExceedsCaptured):
        payment.reserve_refund(500)

    payment.reserve_refund(400)
    assert payment.refundable_amount == 0
    assert payment.pending_refund_amount == 1000


def test_a_refund_refused_by_the_psp_makes_its_amount_refundable_again() -> None:
    payment = captured(1000)
    payment.reserve_refund(1000)

    payment.release_refund(1000)

    assert status_of(payment) is PaymentStatus.SUCCEEDED
    assert (payment.refunded_amount, payment.pending_refund_amount) == (0, 0)
    assert payment.refundable_amount == 1000
    refunded(payment, 1000)
    assert status_of(payment) is PaymentStatus.REFUNDED


def test_reservations_confirmed_out_of_order_add_up_to_a_full_refund() -> None:
    payment = captured(1000)
    payment.reserve_refund(600)
    payment.reserve_refund(400)

    payment.complete_refund(400)
    assert status_of(payment) is PaymentStatus.PARTIALLY_REFUNDED
    payment.complete_refund(600)

    assert status_of(payment) is PaymentStatus.REFUNDED
    assert (payment.refunded_amount, payment.pending_refund_amount) == (1000, 0)


@pytest.mark.parametrize("status", sorted(set(PaymentStatus) - REFUNDABLE))
def test_only_a_captured_payment_can_be_refunded(status: PaymentStatus) -> None:
    payment = Payment(
        id="PAY_arithmetic",
        merchant_id="MER_1",
        amount=1000,
        currency="EUR",
        payment_method="pm_card_visa",
        status=status,
    )

    assert payment.refundable_amount == 0
    with pytest.raises(PaymentNotRefundable):
        payment.reserve_refund(100)
    assert payment.pending_refund_amount == 0


def test_a_fully_refunded_payment_cannot_be_refunded_again() -> None:
    payment = captured(1000)
    refunded(payment, 1000)

    with pytest.raises(PaymentNotRefundable):
        payment.reserve_refund(1)


@pytest.mark.parametrize("amount", [0, -1, -1000])
def test_a_refund_of_nothing_or_less_is_refused(amount: int) -> None:
    payment = captured(1000)

    with pytest.raises(RefundExceedsCaptured):
        payment.reserve_refund(amount)

    assert payment.refundable_amount == 1000


def test_only_reserved_money_can_be_released_or_confirmed() -> None:
    payment = captured(1000)
    payment.reserve_refund(300)

    with pytest.raises(RefundExceedsCaptured):
        payment.release_refund(301)
    with pytest.raises(RefundExceedsCaptured):
        payment.complete_refund(301)
    with pytest.raises(RefundExceedsCaptured):
        payment.release_refund(0)

    assert (payment.refunded_amount, payment.pending_refund_amount) == (0, 300)
    assert status_of(payment) is PaymentStatus.SUCCEEDED
