"""Charges settle late, and refunds never exceed what was charged. No I/O."""

import pytest

from psp_simulator.domain.charges import Charge, Status
from psp_simulator.domain.errors import ChargeNotRefundable, RefundExceedsCharge

CREATED_AT = 1_700_000_000.0
SETTLES_AT = CREATED_AT + 0.2


def charge(
    outcome: Status = Status.SUCCEEDED, failure_code: str | None = None, refunded: int = 0
) -> Charge:
    return Charge(
        id="ch_1",
        reference="PAY_1",
        amount=3000,
        currency="EUR",
        payment_method="pm_card_visa",
        outcome=outcome,
        failure_code=failure_code,
        created_at=CREATED_AT,
        settles_at=SETTLES_AT,
        refunded_amount=refunded,
    )


def refund(target: Charge, amount: int, now: float = SETTLES_AT + 1) -> Charge:
    after, _ = target.refund(
        refund_id="re_1", reference="RFD_1", amount=amount, now=now, settles_at=now + 0.2
    )
    return after


def test_charge_is_processing_until_its_outcome_is_due() -> None:
    declined = charge(Status.FAILED, "card_declined")
    assert declined.status_at(SETTLES_AT - 0.001) is Status.PROCESSING
    assert declined.failure_code_at(SETTLES_AT - 0.001) is None
    assert declined.status_at(SETTLES_AT) is Status.FAILED
    assert declined.failure_code_at(SETTLES_AT) == "card_declined"


def test_outcome_must_be_final_and_consistent() -> None:
    with pytest.raises(ValueError, match="final"):
        charge(Status.PROCESSING)
    with pytest.raises(ValueError, match="failure code"):
        charge(Status.FAILED)
    with pytest.raises(ValueError, match="failure code"):
        charge(Status.SUCCEEDED, "card_declined")


def test_partial_refunds_add_up_to_the_charged_amount() -> None:
    after = refund(refund(refund(charge(), 1000), 1500), 500)
    assert after.refunded_amount == 3000
    assert after.refundable_amount() == 0


def test_refund_takes_the_charge_currency_and_references() -> None:
    _, made = charge().refund(
        refund_id="re_9", reference="RFD_9", amount=100, now=SETTLES_AT, settles_at=SETTLES_AT + 1
    )
    assert (made.charge_id, made.payment_reference, made.currency) == ("ch_1", "PAY_1", "EUR")
    assert made.status_at(SETTLES_AT + 0.5) is Status.PROCESSING
    assert made.status_at(SETTLES_AT + 1) is Status.SUCCEEDED


def test_refund_larger_than_what_remains_is_refused_and_says_what_remains() -> None:
    partly_refunded = refund(charge(), 2000)
    with pytest.raises(RefundExceedsCharge) as refused:
        refund(partly_refunded, 1001)
    assert refused.value.refundable == 1000


def test_refund_larger_than_the_charge_is_refused() -> None:
    with pytest.raises(RefundExceedsCharge):
        refund(charge(), 3001)


def test_refund_of_a_charge_still_processing_is_refused() -> None:
    with pytest.raises(ChargeNotRefundable) as refused:
        refund(charge(), 100, now=SETTLES_AT - 0.1)
    assert refused.value.status == "processing"


def test_refund_of_a_failed_charge_is_refused() -> None:
    with pytest.raises(ChargeNotRefundable) as refused:
        refund(charge(Status.FAILED, "insufficient_funds"), 100)
    assert refused.value.status == "failed"


def test_refund_amount_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        refund(charge(), 0)
