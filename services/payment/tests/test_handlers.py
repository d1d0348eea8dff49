"""The payment service's use cases, run through the real handlers over in-memory fakes.

Events are read the way consumers read them: encoded and decoded again, so an event its schema
would refuse fails the test that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from payevents import Envelope, decode, encode, new_event
from payment_service.domain.errors import (
    PaymentNotFound,
    PaymentNotRefundable,
    RefundExceedsCaptured,
)
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.service_layer import handlers
from payment_service.service_layer.commands import CreatePayment, RequestRefund
from payment_service.service_layer.provider import ProviderRejected, ProviderUnavailable

MERCHANT = "MER_1"
OTHER_MERCHANT = "MER_2"


def on_the_wire(uow: Any) -> list[Envelope]:
    """What consumers of payment-events will read from everything ``uow`` published."""
    return [decode(*encode(envelope)) for envelope in uow.published]


def stored_payment(uow: Any, payment_id: str) -> Payment:
    payment = uow.payments.get(payment_id)
    assert payment is not None
    return payment


def stored_refund(uow: Any, refund_id: str) -> Refund:
    refund = uow.refunds.get_for_update(refund_id)
    assert refund is not None
    return refund


def webhook(payment: Payment, status: str, **extra: Any) -> Envelope:
    """The webhook service's news about ``payment``, as the status applier receives it."""
    return new_event(
        "psp.payment_status_received",
        {
            "psp_event_id": "pspevt_1",
            "payment_id": payment.id,
            "received_at": "2025-03-01T12:00:00Z",
            "status": status,
            **extra,
        },
        source="webhook",
        subject=payment.id,
    )


@pytest.fixture
def payment_in(fake_uow, fake_psp) -> Callable[..., Payment]:
    """Brings a new payment to a status through the real handlers, then forgets the events and
    PSP calls that took, so each test sees only what it causes."""

    def bring(status: str = "created", *, amount: int = 10_000) -> Payment:
        command = CreatePayment(
            merchant_id=MERCHANT, amount=amount, currency="EUR", payment_method="pm_card_visa"
        )
        payment = handlers.create_payment(command, fake_uow)
        if status in ("processing", "succeeded", "failed"):
            fake_psp.charges_will(status, "card_declined" if status == "failed" else None)
            handlers.charge_payment(payment.id, fake_uow, fake_psp)
            fake_psp.charges_will("succeeded")
        elif status == "canceled":
            handlers.apply_payment_status(payment.id, "canceled", fake_uow)
        fake_uow.published.clear()
        fake_psp.calls.clear()
        found = stored_payment(fake_uow, payment.id)
        assert found.status == status
        return found

    return bring


@pytest.fixture
def request_refund(fake_uow, payment_in) -> Callable[..., Refund]:
    """Requests a refund of a captured payment and forgets the refund.requested event."""

    def request(amount: int | None = None, *, payment: Payment | None = None) -> Refund:
        payment = payment or payment_in("succeeded")
        refund = handlers.request_refund(RequestRefund(MERCHANT, payment.id, amount), fake_uow)
        fake_uow.published.clear()
        return refund

    return request


# Creating a payment


def test_a_new_payment_is_stored_as_created_and_announced_once(fake_uow) -> None:
    command = CreatePayment(
        merchant_id=MERCHANT,
        amount=2500,
        currency="EUR",
        payment_method="pm_card_visa",
        description="Order 42",
        metadata={"order": "42"},
        correlation_id="cor_request_1",
    )

    payment = handlers.create_payment(command, fake_uow)

    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.CREATED
    [event] = on_the_wire(fake_uow)
    assert event.type == "payment.created"
    assert event.subject == payment.id
    assert event.source == "payment"
    assert event.correlation_id == "cor_request_1"
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


def test_the_created_event_reads_back_exactly_as_it_was_published(fake_uow) -> None:
    command = CreatePayment(MERCHANT, 100, "USD", "pm_card_mastercard")

    handlers.create_payment(command, fake_uow)

    assert on_the_wire(fake_uow) == fake_uow.published


def test_every_payment_gets_its_own_id(fake_uow) -> None:
    command = CreatePayment(MERCHANT, 100, "EUR", "pm_card_visa")

    first = handlers.create_payment(command, fake_uow)
    second = handlers.create_payment(command, fake_uow)

    assert first.id != second.id
    assert [event.subject for event in fake_uow.published] == [first.id, second.id]


# Charging a payment at the PSP


def test_a_charge_the_psp_is_still_working_on_leaves_the_payment_processing(
    fake_uow, fake_psp, payment_in
) -> None:
    payment = payment_in("created")
    fake_psp.charges_will("processing")

    handlers.charge_payment(payment.id, fake_uow, fake_psp)

    charged = stored_payment(fake_uow, payment.id)
    assert charged.status is PaymentStatus.PROCESSING
    assert charged.psp_reference is not None
    assert fake_psp.calls == [("charge", payment.id)]
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.subject) == ("payment.processing", payment.id)
    assert event.data["psp_reference"] == charged.psp_reference


def test_a_charge_the_psp_confirms_at_once_goes_through_processing_to_succeeded(
    fake_uow, fake_psp, payment_in
) -> None:
    payment = payment_in("created")
    fake_psp.charges_will("succeeded")

    handlers.charge_payment(payment.id, fake_uow, fake_psp)

    charged = stored_payment(fake_uow, payment.id)
    assert charged.status is PaymentStatus.SUCCEEDED
    events = on_the_wire(fake_uow)
    assert [event.type for event in events] == ["payment.processing", "payment.succeeded"]
    assert events[1].data["psp_reference"] == charged.psp_reference


def test_a_charge_the_psp_rejects_fails_the_payment_with_the_psp_code(
    fake_uow, fake_psp, payment_in
) -> None:
    payment = payment_in("created")
    fake_psp.charges_will_raise(ProviderRejected("card_declined", "The card was declined"))

    handlers.charge_payment(payment.id, fake_uow, fake_psp)

    failed = stored_payment(fake_uow, payment.id)
    assert failed.status is PaymentStatus.FAILED
    assert failed.failure_code == "card_declined"
    events = on_the_wire(fake_uow)
    assert [event.type for event in events] == ["payment.processing", "payment.failed"]
    assert events[1].data["failure_code"] == "card_declined"


def test_a_charge_the_psp_answers_as_failed_keeps_the_psp_code(
    fake_uow, fake_psp, payment_in
) -> None:
    payment = payment_in("created")
    fake_psp.charges_will("failed", "insufficient_funds")

    handlers.charge_payment(payment.id, fake_uow, fake_psp)

    assert stored_payment(fake_uow, payment.id).failure_code == "insufficient_funds"
    assert on_the_wire(fake_uow)[-1].data["failure_code"] == "insufficient_funds"


def test_an_unavailable_psp_changes_nothing_so_the_charge_can_be_retried(
    fake_uow, fake_psp, payment_in
) -> None:
    payment = payment_in("created")
    fake_psp.charges_will_raise(ProviderUnavailable("PSP timed out"))

    with pytest.raises(ProviderUnavailable):
        handlers.charge_payment(payment.id, fake_uow, fake_psp)

    assert stored_payment(fake_uow, payment.id) == payment
    assert fake_uow.published == []


@pytest.mark.parametrize("status", ["processing", "succeeded", "failed", "canceled"])
def test_a_payment_past_created_is_not_charged_again(
    fake_uow, fake_psp, payment_in, status: str
) -> None:
    payment = payment_in(status)

    handlers.charge_payment(payment.id, fake_uow, fake_psp)

    assert fake_psp.calls == []
    assert fake_uow.published == []
    assert stored_payment(fake_uow, payment.id) == payment


def test_charging_a_payment_this_service_never_created_is_refused(fake_uow, fake_psp) -> None:
    with pytest.raises(handlers.UnknownPayment):
        handlers.charge_payment("PAY_unknown", fake_uow, fake_psp)

    assert fake_psp.calls == []


def test_events_of_a_charge_follow_the_created_event_that_caused_them(
    fake_uow, fake_psp, payment_in
) -> None:
    payment = payment_in("created")
    created = new_event(
        "payment.created",
        {**payment.facts(), "payment_method": payment.payment_method},
        source="payment",
        subject=payment.id,
    )

    handlers.charge_payment(payment.id, fake_uow, fake_psp, created)

    for event in on_the_wire(fake_uow):
        assert (event.correlation_id, event.causation_id) == (created.correlation_id, created.id)


# Applying what the PSP reports about a payment


def test_success_reported_for_a_processing_payment_completes_it(fake_uow, payment_in) -> None:
    payment = payment_in("processing")

    handlers.apply_payment_status(payment.id, "succeeded", fake_uow, amount=payment.amount)

    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.SUCCEEDED
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.subject) == ("payment.succeeded", payment.id)


def test_a_repeated_success_report_publishes_nothing_new(fake_uow, payment_in) -> None:
    payment = payment_in("processing")
    handlers.apply_payment_status(payment.id, "succeeded", fake_uow)

    handlers.apply_payment_status(payment.id, "succeeded", fake_uow)

    assert fake_uow.published_types() == ["payment.succeeded"]
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.SUCCEEDED


def test_a_late_failure_after_success_changes_nothing(fake_uow, payment_in) -> None:
    payment = payment_in("succeeded")

    handlers.apply_payment_status(payment.id, "failed", fake_uow, failure_code="card_declined")

    assert stored_payment(fake_uow, payment.id) == payment
    assert fake_uow.published == []


def test_success_reported_for_a_created_payment_passes_through_processing(
    fake_uow, payment_in
) -> None:
    payment = payment_in("created")

    handlers.apply_payment_status(payment.id, "succeeded", fake_uow, psp_reference="ch_webhook")

    succeeded = stored_payment(fake_uow, payment.id)
    assert succeeded.status is PaymentStatus.SUCCEEDED
    assert succeeded.psp_reference == "ch_webhook"
    assert fake_uow.published_types() == ["payment.processing", "payment.succeeded"]


def test_a_failure_without_a_code_is_recorded_as_declined_by_the_psp(fake_uow, payment_in) -> None:
    payment = payment_in("processing")

    handlers.apply_payment_status(payment.id, "failed", fake_uow)

    assert stored_payment(fake_uow, payment.id).failure_code == "psp_declined"
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["failure_code"]) == ("payment.failed", "psp_declined")


def test_a_cancellation_reported_for_a_created_payment_cancels_it(fake_uow, payment_in) -> None:
    payment = payment_in("created")

    handlers.apply_payment_status(payment.id, "canceled", fake_uow)

    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.CANCELED
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["cancellation_reason"]) == (
        "payment.canceled",
        "canceled_by_psp",
    )


def test_a_reported_amount_that_differs_from_the_payment_is_refused(fake_uow, payment_in) -> None:
    payment = payment_in("processing", amount=10_000)

    with pytest.raises(ValueError, match="10001"):
        handlers.apply_payment_status(payment.id, "succeeded", fake_uow, amount=10_001)

    assert stored_payment(fake_uow, payment.id) == payment
    assert fake_uow.published == []


def test_a_report_about_a_payment_this_service_never_created_is_refused(fake_uow) -> None:
    with pytest.raises(handlers.UnknownPayment):
        handlers.apply_payment_status("PAY_unknown", "succeeded", fake_uow)


def test_events_caused_by_a_webhook_carry_its_correlation_and_name_it_as_cause(
    fake_uow, payment_in
) -> None:
    payment = payment_in("created")
    news = webhook(payment, "succeeded", amount=payment.amount)

    handlers.apply_payment_status(payment.id, "succeeded", fake_uow, news, amount=payment.amount)

    events = on_the_wire(fake_uow)
    assert len(events) == 2
    for event in events:
        assert (event.correlation_id, event.causation_id) == (news.correlation_id, news.id)


# Requesting a refund


def test_a_refund_request_reserves_the_amount_and_is_announced(fake_uow, payment_in) -> None:
    payment = payment_in("succeeded", amount=10_000)

    refund = handlers.request_refund(
        RequestRefund(MERCHANT, payment.id, 4000, reason="damaged", correlation_id="cor_r1"),
        fake_uow,
    )

    assert stored_refund(fake_uow, refund.id).status is RefundStatus.REQUESTED
    reserved = stored_payment(fake_uow, payment.id)
    assert (reserved.pending_refund_amount, reserved.refundable_amount) == (4000, 6000)
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.subject, event.correlation_id) == (
        "refund.requested",
        payment.id,
        "cor_r1",
    )
    assert event.data == {
        "refund_id": refund.id,
        "payment_id": payment.id,
        "merchant_id": MERCHANT,
        "amount": 4000,
        "currency": "EUR",
        "reason": "damaged",
    }


def test_a_refund_without_an_amount_refunds_everything_left(
    fake_uow, payment_in, request_refund
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    request_refund(3000, payment=payment)

    refund = handlers.request_refund(RequestRefund(MERCHANT, payment.id, None), fake_uow)

    assert refund.amount == 7000
    assert stored_payment(fake_uow, payment.id).refundable_amount == 0


def test_a_refund_of_another_merchants_payment_looks_like_a_missing_payment(
    fake_uow, payment_in
) -> None:
    payment = payment_in("succeeded")

    with pytest.raises(PaymentNotFound):
        handlers.request_refund(RequestRefund(OTHER_MERCHANT, payment.id, 100), fake_uow)

    assert stored_payment(fake_uow, payment.id).pending_refund_amount == 0
    assert fake_uow.refunds.for_payment(payment.id) == []
    assert fake_uow.published == []


def test_a_refund_of_an_unknown_payment_is_refused(fake_uow) -> None:
    with pytest.raises(PaymentNotFound):
        handlers.request_refund(RequestRefund(MERCHANT, "PAY_unknown", 100), fake_uow)


def test_a_refund_beyond_what_is_left_stores_nothing(fake_uow, payment_in, request_refund) -> None:
    payment = payment_in("succeeded", amount=10_000)
    request_refund(9000, payment=payment)

    with pytest.raises(RefundExceedsCaptured):
        handlers.request_refund(RequestRefund(MERCHANT, payment.id, 1001), fake_uow)

    assert len(fake_uow.refunds.for_payment(payment.id)) == 1
    assert stored_payment(fake_uow, payment.id).pending_refund_amount == 9000
    assert fake_uow.published == []


def test_a_payment_not_yet_captured_cannot_be_refunded(fake_uow, payment_in) -> None:
    payment = payment_in("processing")

    with pytest.raises(PaymentNotRefundable):
        handlers.request_refund(RequestRefund(MERCHANT, payment.id, None), fake_uow)

    assert fake_uow.refunds.for_payment(payment.id) == []


# Sending a refund to the PSP


def test_a_refund_the_psp_accepts_keeps_its_reference_and_stays_requested(
    fake_uow, fake_psp, request_refund
) -> None:
    refund = request_refund(2000)
    charge_id = stored_payment(fake_uow, refund.payment_id).psp_reference
    fake_psp.refunds_will("processing")

    handlers.refund_at_psp(refund.id, fake_uow, fake_psp)

    sent = stored_refund(fake_uow, refund.id)
    assert sent.status is RefundStatus.REQUESTED
    assert sent.psp_reference is not None
    assert fake_psp.calls == [("refund", refund.id, charge_id)]
    assert fake_uow.published == []


def test_a_refund_sent_once_is_not_sent_again(fake_uow, fake_psp, request_refund) -> None:
    refund = request_refund(2000)
    fake_psp.refunds_will("processing")
    handlers.refund_at_psp(refund.id, fake_uow, fake_psp)

    handlers.refund_at_psp(refund.id, fake_uow, fake_psp)

    assert [call[0] for call in fake_psp.calls] == ["refund"]


def test_a_refund_the_psp_rejects_fails_and_frees_the_amount(
    fake_uow, fake_psp, request_refund
) -> None:
    refund = request_refund(2000)
    fake_psp.refunds_will_raise(ProviderRejected("insufficient_balance", "No balance"))

    handlers.refund_at_psp(refund.id, fake_uow, fake_psp)

    failed = stored_refund(fake_uow, refund.id)
    assert (failed.status, failed.failure_code) == (RefundStatus.FAILED, "insufficient_balance")
    payment = stored_payment(fake_uow, refund.payment_id)
    assert (payment.status, payment.pending_refund_amount) == (PaymentStatus.SUCCEEDED, 0)
    assert payment.refundable_amount == payment.amount
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["failure_code"]) == ("refund.failed", "insufficient_balance")


def test_a_refund_the_psp_confirms_at_once_refunds_the_payment(
    fake_uow, fake_psp, payment_in, request_refund
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    refund = request_refund(None, payment=payment)
    fake_psp.refunds_will("succeeded")

    handlers.refund_at_psp(refund.id, fake_uow, fake_psp)

    done = stored_refund(fake_uow, refund.id)
    assert done.status is RefundStatus.SUCCEEDED
    refunded = stored_payment(fake_uow, payment.id)
    assert (refunded.status, refunded.refunded_amount) == (PaymentStatus.REFUNDED, 10_000)
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["psp_reference"]) == ("refund.succeeded", done.psp_reference)


def test_an_unavailable_psp_leaves_the_refund_to_be_retried(
    fake_uow, fake_psp, request_refund
) -> None:
    refund = request_refund(2000)
    fake_psp.refunds_will_raise(ProviderUnavailable("PSP timed out"))

    with pytest.raises(ProviderUnavailable):
        handlers.refund_at_psp(refund.id, fake_uow, fake_psp)

    assert stored_refund(fake_uow, refund.id) == refund
    assert fake_uow.published == []


def test_sending_an_unknown_refund_is_refused(fake_uow, fake_psp) -> None:
    with pytest.raises(handlers.UnknownPayment):
        handlers.refund_at_psp("RFD_unknown", fake_uow, fake_psp)

    assert fake_psp.calls == []


# Applying what the PSP reports about a refund


def test_a_confirmed_partial_refund_leaves_the_payment_partially_refunded(
    fake_uow, payment_in, request_refund
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    refund = request_refund(2500, payment=payment)

    handlers.apply_refund_status(refund.id, "succeeded", fake_uow, psp_reference="re_1")

    refunded = stored_payment(fake_uow, payment.id)
    assert refunded.status is PaymentStatus.PARTIALLY_REFUNDED
    assert (refunded.refunded_amount, refunded.pending_refund_amount) == (2500, 0)
    assert stored_refund(fake_uow, refund.id).status is RefundStatus.SUCCEEDED
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.subject) == ("refund.succeeded", payment.id)
    assert (event.data["amount"], event.data["psp_reference"]) == (2500, "re_1")


def test_confirming_the_last_part_leaves_the_payment_refunded(
    fake_uow, payment_in, request_refund
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    first = request_refund(2500, payment=payment)
    rest = request_refund(None, payment=payment)

    handlers.apply_refund_status(first.id, "succeeded", fake_uow)
    handlers.apply_refund_status(rest.id, "succeeded", fake_uow)

    refunded = stored_payment(fake_uow, payment.id)
    assert (refunded.status, refunded.refunded_amount) == (PaymentStatus.REFUNDED, 10_000)
    assert fake_uow.published_types() == ["refund.succeeded", "refund.succeeded"]


def test_a_refund_is_found_by_the_psp_reference_when_its_id_is_not_echoed(
    fake_uow, fake_psp, request_refund
) -> None:
    refund = request_refund(2000)
    fake_psp.refunds_will("processing")
    handlers.refund_at_psp(refund.id, fake_uow, fake_psp)
    psp_reference = stored_refund(fake_uow, refund.id).psp_reference

    handlers.apply_refund_status(None, "succeeded", fake_uow, psp_reference=psp_reference)

    assert stored_refund(fake_uow, refund.id).status is RefundStatus.SUCCEEDED
    assert stored_payment(fake_uow, refund.payment_id).refunded_amount == 2000


def test_a_refused_refund_fails_and_frees_the_amount(fake_uow, request_refund) -> None:
    refund = request_refund(2000)

    handlers.apply_refund_status(refund.id, "failed", fake_uow, failure_code="card_expired")

    failed = stored_refund(fake_uow, refund.id)
    assert (failed.status, failed.failure_code) == (RefundStatus.FAILED, "card_expired")
    payment = stored_payment(fake_uow, refund.payment_id)
    assert (payment.pending_refund_amount, payment.refunded_amount) == (0, 0)
    assert payment.status is PaymentStatus.SUCCEEDED
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["failure_code"]) == ("refund.failed", "card_expired")


@pytest.mark.parametrize(
    ("first", "second"),
    [("succeeded", "succeeded"), ("succeeded", "failed"), ("failed", "succeeded")],
)
def test_news_about_a_refund_already_settled_is_ignored(
    fake_uow, request_refund, first: str, second: str
) -> None:
    refund = request_refund(2000)
    handlers.apply_refund_status(refund.id, first, fake_uow)
    settled = stored_refund(fake_uow, refund.id)
    payment = stored_payment(fake_uow, refund.payment_id)

    handlers.apply_refund_status(refund.id, second, fake_uow)

    assert stored_refund(fake_uow, refund.id) == settled
    assert stored_payment(fake_uow, refund.payment_id) == payment
    assert fake_uow.published_types() == [f"refund.{first}"]


def test_a_refund_still_processing_at_the_psp_changes_nothing(fake_uow, request_refund) -> None:
    refund = request_refund(2000)

    handlers.apply_refund_status(refund.id, "processing", fake_uow)

    assert stored_refund(fake_uow, refund.id).status is RefundStatus.REQUESTED
    assert stored_payment(fake_uow, refund.payment_id).pending_refund_amount == 2000
    assert fake_uow.published == []


def test_news_about_an_unknown_refund_is_refused(fake_uow) -> None:
    with pytest.raises(handlers.UnknownPayment):
        handlers.apply_refund_status("RFD_unknown", "succeeded", fake_uow)
    with pytest.raises(handlers.UnknownPayment):
        handlers.apply_refund_status(None, "succeeded", fake_uow, psp_reference="re_unknown")


# The janitor: payments stuck in created or processing


STUCK_AFTER = 300


def recheck(uow: Any, psp: Any, limit: int = 50) -> int:
    return handlers.recheck_unsettled(uow, psp, older_than_seconds=STUCK_AFTER, limit=limit)


def test_a_payment_stuck_in_created_is_charged(fake_uow, fake_psp, fake_clock, payment_in) -> None:
    payment = payment_in("created")
    fake_clock.advance(STUCK_AFTER + 1)
    fake_psp.charges_will("succeeded")

    assert recheck(fake_uow, fake_psp) == 1

    assert fake_psp.calls == [("charge", payment.id)]
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.SUCCEEDED
    assert fake_uow.published_types() == ["payment.processing", "payment.succeeded"]


def test_a_payment_created_moments_ago_is_left_alone(
    fake_uow, fake_psp, fake_clock, payment_in
) -> None:
    payment = payment_in("created")
    fake_clock.advance(STUCK_AFTER - 1)

    assert recheck(fake_uow, fake_psp) == 0

    assert fake_psp.calls == []
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.CREATED


@pytest.mark.parametrize(
    ("psp_status", "failure_code", "expected"),
    [
        ("succeeded", None, PaymentStatus.SUCCEEDED),
        ("failed", "card_declined", PaymentStatus.FAILED),
    ],
)
def test_a_payment_stuck_in_processing_takes_the_status_the_psp_now_reports(
    fake_uow,
    fake_psp,
    fake_clock,
    payment_in,
    psp_status: str,
    failure_code: str | None,
    expected: PaymentStatus,
) -> None:
    payment = payment_in("processing")
    fake_psp.settle_charge(payment.psp_reference, psp_status, failure_code)
    fake_clock.advance(STUCK_AFTER + 1)

    assert recheck(fake_uow, fake_psp) == 1

    assert fake_psp.calls == [("get_charge", payment.psp_reference)]
    rechecked = stored_payment(fake_uow, payment.id)
    assert (rechecked.status, rechecked.failure_code) == (expected, failure_code)
    [event] = on_the_wire(fake_uow)
    assert event.type == f"payment.{psp_status}"


def test_a_payment_still_processing_at_the_psp_stays_processing(
    fake_uow, fake_psp, fake_clock, payment_in
) -> None:
    payment = payment_in("processing")
    fake_clock.advance(STUCK_AFTER + 1)

    recheck(fake_uow, fake_psp)

    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.PROCESSING
    assert fake_uow.published == []


def test_a_payment_processing_without_a_psp_reference_is_charged_again(
    fake_uow, fake_psp, fake_clock, payment_in
) -> None:
    payment = payment_in("created")
    handlers.apply_payment_status(payment.id, "processing", fake_uow)
    fake_uow.published.clear()
    fake_clock.advance(STUCK_AFTER + 1)
    fake_psp.charges_will("succeeded")

    recheck(fake_uow, fake_psp)

    assert fake_psp.calls == [("charge", payment.id)]
    charged = stored_payment(fake_uow, payment.id)
    assert charged.status is PaymentStatus.SUCCEEDED
    assert charged.psp_reference is not None
    assert fake_uow.published_types() == ["payment.succeeded"]


def test_a_stuck_payment_the_psp_refuses_to_charge_fails_with_the_psp_code(
    fake_uow, fake_psp, fake_clock, payment_in
) -> None:
    payment = payment_in("created")
    handlers.apply_payment_status(payment.id, "processing", fake_uow)
    fake_clock.advance(STUCK_AFTER + 1)
    fake_psp.charges_will_raise(ProviderRejected("card_declined", "The card was declined"))

    recheck(fake_uow, fake_psp)

    failed = stored_payment(fake_uow, payment.id)
    assert (failed.status, failed.failure_code) == (PaymentStatus.FAILED, "card_declined")


def test_a_payment_charged_in_this_pass_is_not_rechecked_in_the_same_pass(
    fake_uow, fake_psp, fake_clock, payment_in
) -> None:
    payment = payment_in("created")
    fake_clock.advance(STUCK_AFTER + 1)
    fake_psp.charges_will("processing")

    assert recheck(fake_uow, fake_psp) == 1

    assert fake_psp.calls == [("charge", payment.id)]


def test_the_janitor_takes_at_most_limit_payments_of_each_status(
    fake_uow, fake_psp, fake_clock, payment_in
) -> None:
    for _ in range(3):
        payment_in("created")
    fake_clock.advance(STUCK_AFTER + 1)

    assert recheck(fake_uow, fake_psp, limit=2) == 2

    assert len(fake_psp.calls) == 2
