"""The merchant's requests: creating payments and asking for refunds, through the real use cases."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from payment_service.domain.errors import (
    PaymentNotFound,
    PaymentNotRefundable,
    RefundExceedsCaptured,
)
from payment_service.domain.ids import new_payment_id, new_refund_id
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.service_layer import payments
from payment_service.service_layer.commands import CreatePayment, RequestRefund
from payment_service.testing import (
    FakeClock,
    FakeUnitOfWork,
    on_the_wire,
    stored_payment,
    stored_refund,
)

MERCHANT = "MER_1"
OTHER_MERCHANT = "MER_2"
SOON = timedelta(minutes=5)


def create(uow: Any, clock: Any, command: CreatePayment) -> Payment:
    return payments.create_payment(command, uow, now=clock(), charge_within=SOON)


def refund(uow: Any, clock: Any, command: RequestRefund) -> Any:
    return payments.request_refund(command, uow, now=clock(), send_within=SOON)


def test_a_new_payment_is_stored_as_created_and_announced_once(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock
) -> None:
    command = CreatePayment(
        merchant_id=MERCHANT,
        amount=2500,
        currency="EUR",
        payment_method="pm_card_visa",
        description="Order 42",
        metadata={"order": "42"},
        correlation_id="cor_request_1",
    )

    payment = create(fake_uow, fake_clock, command)

    kept = stored_payment(fake_uow, payment.id)
    assert kept.status is PaymentStatus.CREATED
    assert kept.recheck.due_at == fake_clock() + SOON  # the janitor charges it if no one did
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.subject, event.correlation_id) == (
        "payment.created",
        payment.id,
        "cor_request_1",
    )
    assert event.data == {
        "payment_id": payment.id,
        "merchant_id": MERCHANT,
        "amount": 2500,
        "currency": "EUR",
        "payment_method": "pm_card_visa",
        "description": "Order 42",
        "metadata": {"order": "42"},
        "capture_method": "automatic",
    }


def test_every_payment_gets_its_own_id(fake_uow: FakeUnitOfWork, fake_clock: FakeClock) -> None:
    command = CreatePayment(MERCHANT, 100, "EUR", "pm_card_visa")

    first = create(fake_uow, fake_clock, command)
    second = create(fake_uow, fake_clock, command)

    assert first.id != second.id


@pytest.mark.parametrize(("new_id", "prefix"), [(new_payment_id, "PAY_"), (new_refund_id, "RFD_")])
def test_ids_are_a_prefix_and_letters_and_digits_only(new_id: Any, prefix: str) -> None:
    made = {new_id() for _ in range(2000)}

    assert len(made) == 2000
    for made_id in made:
        assert re.fullmatch(rf"{prefix}[A-Za-z0-9]{{24}}", made_id), made_id


def test_a_refund_request_reserves_the_amount_and_is_announced(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("succeeded", amount=10_000)

    requested = refund(
        fake_uow,
        fake_clock,
        RequestRefund(MERCHANT, payment.id, 4000, reason="damaged", correlation_id="cor_r1"),
    )

    kept = stored_refund(fake_uow, requested.id)
    assert kept.status is RefundStatus.REQUESTED
    assert kept.recheck.due_at == fake_clock() + SOON
    reserved = stored_payment(fake_uow, payment.id)
    assert (reserved.pending_refund_amount, reserved.refundable_amount) == (4000, 6000)
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.subject, event.correlation_id) == (
        "refund.requested",
        payment.id,
        "cor_r1",
    )
    assert event.data == {
        "refund_id": requested.id,
        "payment_id": payment.id,
        "merchant_id": MERCHANT,
        "amount": 4000,
        "currency": "EUR",
        "reason": "damaged",
    }


def test_a_refund_without_an_amount_refunds_everything_left(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    payment_in: Callable[..., Payment],
    request_refund: Callable[..., Refund],
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    request_refund(3000, payment=payment)

    rest = refund(fake_uow, fake_clock, RequestRefund(MERCHANT, payment.id, None))

    assert rest.amount == 7000
    assert stored_payment(fake_uow, payment.id).refundable_amount == 0


def test_a_refund_of_another_merchants_payment_looks_like_a_missing_payment(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("succeeded")

    with pytest.raises(PaymentNotFound):
        refund(fake_uow, fake_clock, RequestRefund(OTHER_MERCHANT, payment.id, 100))

    assert stored_payment(fake_uow, payment.id).pending_refund_amount == 0
    assert fake_uow.refunds.for_payment(payment.id) == []
    assert fake_uow.published == []


@pytest.mark.parametrize("payment_id", ["PAY_unknown", "PAY_\x00", "not-a-payment-id"])
def test_a_refund_of_an_unknown_payment_is_refused(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_id: str
) -> None:
    with pytest.raises(PaymentNotFound):
        refund(fake_uow, fake_clock, RequestRefund(MERCHANT, payment_id, 100))


def test_a_refund_beyond_what_is_left_stores_nothing(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    payment_in: Callable[..., Payment],
    request_refund: Callable[..., Refund],
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    request_refund(9000, payment=payment)

    with pytest.raises(RefundExceedsCaptured):
        refund(fake_uow, fake_clock, RequestRefund(MERCHANT, payment.id, 1001))

    assert len(fake_uow.refunds.for_payment(payment.id)) == 1
    assert stored_payment(fake_uow, payment.id).pending_refund_amount == 9000
    assert fake_uow.published == []


def test_a_payment_not_yet_captured_cannot_be_refunded(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")

    with pytest.raises(PaymentNotRefundable):
        refund(fake_uow, fake_clock, RequestRefund(MERCHANT, payment.id, None))

    assert fake_uow.refunds.for_payment(payment.id) == []


def test_refunds_of_a_payment_are_listed_a_page_at_a_time(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    payment_in: Callable[..., Payment],
    request_refund: Callable[..., Refund],
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    made = []
    for _ in range(5):
        fake_clock.advance(1)
        made.append(request_refund(100, payment=payment).id)

    first = payments.refunds_of(fake_uow, MERCHANT, payment.id, after=None, limit=2)
    last = first[-1]
    assert last.created_at is not None
    rest = payments.refunds_of(
        fake_uow, MERCHANT, payment.id, after=(last.created_at, last.id), limit=10
    )

    assert [r.id for r in first] + [r.id for r in rest] == made
