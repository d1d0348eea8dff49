"""What the status applier does with the PSP's webhook reports, through the real use cases.

A complete report that agrees with the payment is applied at once; one that lacks a field or
contradicts what we hold changes nothing, is kept with the reason and makes the PSP's own record
decide at the janitor's next pass.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from payevents import new_event
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.domain.reports import Verdict
from payment_service.service_layer.context import ProviderContext
from payment_service.service_layer.errors import (
    RefundNotAcknowledged,
    UnknownPayment,
    UnknownRefund,
)
from payment_service.service_layer.refunding import send_refund
from payment_service.service_layer.reports import apply_payment_report, apply_refund_report
from payment_service.testing import (
    FakeClock,
    FakeUnitOfWork,
    on_the_wire,
    refund_report_about,
    report_about,
    stored_payment,
    stored_refund,
)

CONFIRM_AFTER = timedelta(minutes=5)


def verdicts(uow: Any) -> list[tuple[str, str | None]]:
    return [(row.judgement.verdict.value, row.judgement.reason) for row in uow.reports.rows]


def test_a_complete_success_report_completes_a_processing_payment(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")

    verdict = apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    assert verdict is Verdict.APPLIED
    done = stored_payment(fake_uow, payment.id)
    assert done.status is PaymentStatus.SUCCEEDED
    assert done.recheck.due_at == fake_clock() + CONFIRM_AFTER  # the PSP's record confirms it
    assert fake_uow.published_types() == ["payment.succeeded"]
    assert verdicts(fake_uow) == [("applied", None)]


def test_a_repeated_success_report_publishes_nothing_new(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")
    apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    verdict = apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    assert verdict is Verdict.NO_CHANGE
    assert fake_uow.published_types() == ["payment.succeeded"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"currency": "JPY"}, "currency JPY is not the EUR we hold"),
        ({"amount": 3001}, "amount 3001 is not the 3000 we hold"),
        ({"psp_reference": "ch_someone_elses"}, "charge ch_someone_elses is not the"),
    ],
)
def test_a_report_contradicting_the_payment_changes_nothing_and_asks_the_psp(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    payment_in: Callable[..., Payment],
    change: dict[str, Any],
    reason: str,
) -> None:
    payment = payment_in("processing", amount=3000)

    verdict = apply_payment_report(
        report_about(payment, "succeeded", **change),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    assert verdict is Verdict.CONTRADICTED
    kept = stored_payment(fake_uow, payment.id)
    assert (kept.status, kept.psp_reference) == (PaymentStatus.PROCESSING, payment.psp_reference)
    assert kept.recheck.is_due(fake_clock())
    assert fake_uow.published == []
    [(kind, why)] = verdicts(fake_uow)
    assert kind == "contradicted" and why is not None and reason in why


@pytest.mark.parametrize("missing", ["amount", "currency", "psp_reference"])
def test_a_report_lacking_a_field_is_left_for_the_psp_to_confirm(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    payment_in: Callable[..., Payment],
    missing: str,
) -> None:
    payment = payment_in("processing")

    verdict = apply_payment_report(
        report_about(payment, "succeeded", **{missing: None}),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    assert verdict is Verdict.UNCONFIRMED
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.PROCESSING
    assert stored_payment(fake_uow, payment.id).recheck.is_due(fake_clock())
    assert fake_uow.published == []
    [(_, why)] = verdicts(fake_uow)
    assert why == f"the report lacks {missing.replace('psp_reference', 'charge')}"


def test_a_success_for_a_payment_whose_charge_we_never_heard_of_waits_for_the_psp(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    """A SUCCESS without our own knowledge of the charge would leave a succeeded payment no
    refund can reach: the charge id must come from the PSP's own answer first."""
    payment = payment_in("created")

    verdict = apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    assert verdict is Verdict.UNCONFIRMED
    kept = stored_payment(fake_uow, payment.id)
    assert (kept.status, kept.psp_reference) == (PaymentStatus.CREATED, None)
    assert fake_uow.published == []


def test_a_failure_after_success_changes_nothing_and_asks_the_psp(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("succeeded")

    verdict = apply_payment_report(
        report_about(payment, "failed"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    assert verdict is Verdict.CONTRADICTED
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.SUCCEEDED
    assert stored_payment(fake_uow, payment.id).recheck.is_due(fake_clock())
    assert verdicts(fake_uow) == [("contradicted", "reports failed, the payment is succeeded")]


def test_a_success_after_a_failure_changes_nothing_yet_and_asks_the_psp(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")
    apply_payment_report(
        report_about(payment, "failed"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    verdict = apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    assert verdict is Verdict.CONTRADICTED
    failed = stored_payment(fake_uow, payment.id)
    assert failed.status is PaymentStatus.FAILED
    assert failed.recheck.is_due(fake_clock())
    assert fake_uow.published_types() == ["payment.failed"]


def test_a_failure_without_a_code_is_recorded_as_declined_by_the_psp(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")

    apply_payment_report(
        report_about(payment, "failed", failure_code=None),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    assert stored_payment(fake_uow, payment.id).failure_code == "psp_declined"


def test_a_report_about_a_payment_this_service_does_not_have_is_refused_for_a_retry(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")
    unknown = report_about(payment, "succeeded", payment_id="PAY_unknown")

    with pytest.raises(UnknownPayment):
        apply_payment_report(unknown, fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER)


def test_events_caused_by_a_webhook_carry_its_correlation_and_name_it_as_cause(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")
    news = new_event(
        "psp.payment_status_received",
        {
            "psp_event_id": "evt_1",
            "payment_id": payment.id,
            "received_at": "2025-03-01T12:00:00Z",
            "status": "succeeded",
        },
        source="webhook",
        subject=payment.id,
    )

    apply_payment_report(
        report_about(payment, "succeeded"),
        fake_uow,
        fake_clock(),
        news,
        confirm_after=CONFIRM_AFTER,
    )

    [event] = on_the_wire(fake_uow)
    assert (event.correlation_id, event.causation_id) == (news.correlation_id, news.id)


# Refund reports


def test_a_complete_refund_report_settles_the_refund(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(2000)
    send_refund(refund.id, ctx)
    sent = stored_refund(fake_uow, refund.id)
    fake_uow.published.clear()

    verdict = apply_refund_report(
        refund_report_about(sent, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    assert verdict is Verdict.APPLIED
    assert stored_refund(fake_uow, refund.id).status is RefundStatus.SUCCEEDED
    payment = stored_payment(fake_uow, refund.payment_id)
    assert (payment.refunded_amount, payment.pending_refund_amount) == (2000, 0)
    assert fake_uow.published_types() == ["refund.succeeded"]


def test_a_refund_report_before_the_charger_committed_the_psp_id_is_retried(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, request_refund: Callable[..., Refund]
) -> None:
    refund = request_refund(2000)

    with pytest.raises(RefundNotAcknowledged):
        apply_refund_report(
            refund_report_about(refund, "succeeded"),
            fake_uow,
            fake_clock(),
            confirm_after=CONFIRM_AFTER,
        )


@pytest.mark.parametrize(
    "change",
    [{"amount": 1999}, {"currency": "USD"}, {"payment_id": "PAY_other"}, {"psp_reference": "re_x"}],
)
def test_a_refund_report_contradicting_the_refund_changes_nothing_and_asks_the_psp(
    fake_uow: FakeUnitOfWork,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
    change: dict[str, Any],
) -> None:
    refund = request_refund(2000)
    send_refund(refund.id, ctx)
    sent = stored_refund(fake_uow, refund.id)
    fake_uow.published.clear()

    verdict = apply_refund_report(
        refund_report_about(sent, "succeeded", **change),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    assert verdict is Verdict.CONTRADICTED
    kept = stored_refund(fake_uow, refund.id)
    assert kept.status is RefundStatus.REQUESTED
    assert kept.recheck.is_due(fake_clock())
    assert stored_payment(fake_uow, refund.payment_id).pending_refund_amount == 2000
    assert fake_uow.published == []


def test_a_report_about_a_refund_this_service_does_not_have_is_refused_for_a_retry(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, request_refund: Callable[..., Refund]
) -> None:
    refund = request_refund(2000)
    unknown = refund_report_about(refund, "succeeded", refund_id=None, psp_reference="re_nobody")

    with pytest.raises(UnknownRefund):
        apply_refund_report(unknown, fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER)
