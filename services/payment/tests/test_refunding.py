"""Sending refunds to the PSP and applying what it says about them, through the real use cases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.service_layer.context import ProviderContext
from payment_service.service_layer.errors import UnknownRefund
from payment_service.service_layer.provider import ProviderDeclined, ProviderUnavailable
from payment_service.service_layer.refunding import send_refund
from payment_service.service_layer.reports import apply_refund_report
from payment_service.testing import (
    FakeClock,
    FakeProvider,
    FakeUnitOfWork,
    on_the_wire,
    refund_report_about,
    stored_payment,
    stored_refund,
)

CONFIRM_AFTER = timedelta(minutes=5)


@pytest.fixture
def sent_refund(
    fake_uow: FakeUnitOfWork, ctx: ProviderContext, request_refund: Callable[..., Refund]
) -> Any:
    """A refund the PSP accepted and is still working on."""

    def send(amount: int | None = 2000, *, payment: Payment | None = None) -> Refund:
        refund = request_refund(amount, payment=payment)
        send_refund(refund.id, ctx)
        fake_uow.published.clear()
        return stored_refund(fake_uow, refund.id)

    return send


def test_no_transaction_is_open_while_the_psp_is_refunding(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(2000)
    open_during_call: list[int] = []
    fake_psp.on_call = lambda: open_during_call.append(fake_uow.open_transactions)

    send_refund(refund.id, ctx)

    assert open_during_call == [0]


def test_a_refund_the_psp_accepts_keeps_its_reference_and_stays_requested(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(2000)
    charge_id = stored_payment(fake_uow, refund.payment_id).psp_reference

    send_refund(refund.id, ctx)

    sent = stored_refund(fake_uow, refund.id)
    assert sent.status is RefundStatus.REQUESTED
    assert sent.psp_reference is not None
    assert sent.recheck.due_at is not None  # the janitor asks if no webhook comes
    assert fake_psp.calls == [("refund", refund.id, charge_id)]
    assert fake_uow.published == []


def test_a_refund_sent_once_is_not_sent_again(
    fake_psp: FakeProvider, ctx: ProviderContext, sent_refund: Callable[..., Refund]
) -> None:
    refund = sent_refund()
    fake_psp.calls.clear()

    send_refund(refund.id, ctx)

    assert fake_psp.calls == []


def test_a_refund_the_psp_declines_fails_and_frees_the_amount(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(2000)
    fake_psp.fail("refund", ProviderDeclined("charge_not_refundable", "not refundable"))

    send_refund(refund.id, ctx)

    failed = stored_refund(fake_uow, refund.id)
    assert (failed.status, failed.failure_code) == (RefundStatus.FAILED, "charge_not_refundable")
    assert failed.recheck.due_at is None
    payment = stored_payment(fake_uow, refund.payment_id)
    assert (payment.status, payment.pending_refund_amount) == (PaymentStatus.SUCCEEDED, 0)
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["failure_code"]) == ("refund.failed", "charge_not_refundable")


def test_a_refund_the_psp_confirms_at_once_refunds_the_payment(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
    request_refund: Callable[..., Refund],
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    refund = request_refund(None, payment=payment)
    fake_psp.refunds_will("succeeded")

    send_refund(refund.id, ctx)

    done = stored_refund(fake_uow, refund.id)
    assert done.status is RefundStatus.SUCCEEDED
    refunded = stored_payment(fake_uow, refund.payment_id)
    assert (refunded.status, refunded.refunded_amount) == (PaymentStatus.REFUNDED, 10_000)
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["psp_reference"]) == ("refund.succeeded", done.psp_reference)


def test_an_unavailable_psp_leaves_the_refund_to_be_retried(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(2000)
    fake_psp.fail("refund", ProviderUnavailable("PSP timed out"))

    with pytest.raises(ProviderUnavailable):
        send_refund(refund.id, ctx)

    kept = stored_refund(fake_uow, refund.id)
    assert (kept.status, kept.psp_reference) == (RefundStatus.REQUESTED, None)
    assert fake_uow.published == []


def test_sending_an_unknown_refund_is_refused(fake_psp: FakeProvider, ctx: ProviderContext) -> None:
    with pytest.raises(UnknownRefund):
        send_refund("RFD_unknown", ctx)

    assert fake_psp.calls == []


def test_a_confirmed_partial_refund_leaves_the_payment_partially_refunded(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    payment_in: Callable[..., Payment],
    sent_refund: Callable[..., Refund],
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    refund = sent_refund(2500, payment=payment)

    apply_refund_report(
        refund_report_about(refund, "succeeded"),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    refunded = stored_payment(fake_uow, refund.payment_id)
    assert refunded.status is PaymentStatus.PARTIALLY_REFUNDED
    assert (refunded.refunded_amount, refunded.pending_refund_amount) == (2500, 0)
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.subject, event.data["amount"]) == (
        "refund.succeeded",
        payment.id,
        2500,
    )


def test_confirming_the_last_part_leaves_the_payment_refunded(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    payment_in: Callable[..., Payment],
    sent_refund: Callable[..., Refund],
) -> None:
    payment = payment_in("succeeded", amount=10_000)
    first = sent_refund(2500, payment=payment)
    rest = sent_refund(None, payment=payment)

    apply_refund_report(
        refund_report_about(first, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    apply_refund_report(
        refund_report_about(rest, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    refunded = stored_payment(fake_uow, first.payment_id)
    assert (refunded.status, refunded.refunded_amount) == (PaymentStatus.REFUNDED, 10_000)
    assert fake_uow.published_types() == ["refund.succeeded", "refund.succeeded"]


def test_a_refund_is_found_by_the_psp_reference_when_its_id_is_not_echoed(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, sent_refund: Callable[..., Refund]
) -> None:
    refund = sent_refund(2000)

    apply_refund_report(
        refund_report_about(refund, "succeeded", refund_id=None),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    assert stored_refund(fake_uow, refund.id).status is RefundStatus.SUCCEEDED
    assert stored_payment(fake_uow, refund.payment_id).refunded_amount == 2000


def test_a_refused_refund_fails_and_frees_the_amount(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, sent_refund: Callable[..., Refund]
) -> None:
    refund = sent_refund(2000)

    apply_refund_report(
        refund_report_about(refund, "failed", failure_code="card_expired"),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    failed = stored_refund(fake_uow, refund.id)
    assert (failed.status, failed.failure_code) == (RefundStatus.FAILED, "card_expired")
    payment = stored_payment(fake_uow, refund.payment_id)
    assert (payment.pending_refund_amount, payment.refunded_amount) == (0, 0)
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["failure_code"]) == ("refund.failed", "card_expired")


@pytest.mark.parametrize(
    ("first", "second", "verdict"),
    [
        ("succeeded", "succeeded", "no_change"),
        ("succeeded", "failed", "contradicted"),
        ("failed", "succeeded", "contradicted"),
    ],
)
def test_news_about_a_refund_already_settled_changes_nothing(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    sent_refund: Callable[..., Refund],
    first: str,
    second: str,
    verdict: str,
) -> None:
    refund = sent_refund(2000)
    apply_refund_report(
        refund_report_about(refund, first), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    payment = stored_payment(fake_uow, refund.payment_id)

    apply_refund_report(
        refund_report_about(refund, second), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    assert stored_refund(fake_uow, refund.id).status == first
    assert stored_payment(fake_uow, refund.payment_id).refunded_amount == payment.refunded_amount
    assert fake_uow.published_types() == [f"refund.{first}"]
    assert fake_uow.reports.rows[-1].judgement.verdict == verdict


def test_a_refund_still_processing_at_the_psp_changes_nothing(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, sent_refund: Callable[..., Refund]
) -> None:
    refund = sent_refund(2000)

    apply_refund_report(
        refund_report_about(refund, "processing"),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    assert stored_refund(fake_uow, refund.id).status is RefundStatus.REQUESTED
    assert stored_payment(fake_uow, refund.payment_id).pending_refund_amount == 2000
    assert fake_uow.published == []
