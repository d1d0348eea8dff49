"""The janitor: the PSP's own record settles whatever the platform cannot vouch for.

Each payment or refund is checked in its own transactions, with no lock across the PSP call; one
that fails is pushed back by its own back-off and never holds the others up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from payevents import decode, encode
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.psp import PspStatus
from payment_service.domain.refund import Refund, RefundStatus
from payment_service.service_layer.context import ProviderContext
from payment_service.service_layer.janitor import run_pass
from payment_service.service_layer.provider import ProviderMisconfigured, ProviderUnavailable
from payment_service.service_layer.refunding import send_refund
from payment_service.service_layer.reports import apply_payment_report
from payment_service.testing import (
    FakeClock,
    FakeProvider,
    FakeUnitOfWork,
    on_the_wire,
    report_about,
    stored_payment,
    stored_refund,
)

CONFIRM_AFTER = timedelta(minutes=5)

STUCK = 5 * 60


def test_a_payment_created_moments_ago_is_left_to_the_charger(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment_in("created")
    fake_clock.advance(STUCK - 1)

    assert run_pass(ctx).checked == 0
    assert fake_psp.calls == []


def test_a_payment_the_charger_never_got_to_is_charged(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    fake_clock.advance(STUCK)

    assert run_pass(ctx).checked == 1

    assert fake_psp.calls == [("find_charge", payment.id), ("charge", payment.id)]
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.SUCCEEDED


def test_a_payment_whose_charge_answer_was_lost_takes_the_charge_the_psp_made(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    fake_psp.charge(payment)  # the PSP made it; its answer never reached us
    fake_psp.calls.clear()
    fake_clock.advance(STUCK)

    run_pass(ctx)

    assert fake_psp.calls == [("find_charge", payment.id)]
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.SUCCEEDED
    assert len(fake_psp.charges) == 1


def test_a_payment_stuck_in_processing_takes_the_status_the_psp_now_reports(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("processing")
    fake_psp.settle(payment.id, "failed", "insufficient_funds")
    fake_clock.advance(STUCK)

    run_pass(ctx)

    failed = stored_payment(fake_uow, payment.id)
    assert (failed.status, failed.failure_code) == (PaymentStatus.FAILED, "insufficient_funds")
    assert failed.recheck.due_at is None


def test_a_payment_still_processing_is_asked_again_later_each_time(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("processing")
    looks = []
    for _ in range(4):
        fake_clock.advance(STUCK * 8)
        run_pass(ctx)
        due_at = stored_payment(fake_uow, payment.id).recheck.due_at
        assert due_at is not None
        looks.append(due_at - fake_clock())

    assert [look.total_seconds() for look in looks] == [STUCK, 2 * STUCK, 4 * STUCK, 8 * STUCK]


def test_one_psp_failure_neither_undoes_nor_blocks_the_others(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    first, second = payment_in("processing"), payment_in("processing")
    fake_clock.advance(1)
    third = payment_in("processing")
    for payment in (first, second, third):
        fake_psp.settle(payment.id, "succeeded")
    real_find = fake_psp.find_charge

    def second_unanswered(payment: Payment) -> Any:
        if payment.id == second.id:
            raise ProviderUnavailable("timed out")
        return real_find(payment)

    fake_psp.find_charge = second_unanswered  # type: ignore[method-assign]
    fake_clock.advance(STUCK + 1)

    result = run_pass(ctx)

    assert (result.checked, result.failed) == (2, 1)
    assert stored_payment(fake_uow, first.id).status is PaymentStatus.SUCCEEDED
    assert stored_payment(fake_uow, third.id).status is PaymentStatus.SUCCEEDED
    pushed_back = stored_payment(fake_uow, second.id)
    assert pushed_back.status is PaymentStatus.PROCESSING
    due_at = pushed_back.recheck.due_at
    assert due_at is not None and due_at > fake_clock()  # not first in line at the next pass


@pytest.mark.parametrize("error", [RuntimeError("a bug"), KeyError("status")])
def test_an_unexpected_error_is_logged_and_the_pass_goes_on(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
    error: Exception,
) -> None:
    broken, fine = payment_in("processing"), payment_in("processing")
    fake_psp.settle(fine.id, "succeeded")
    real_find = fake_psp.find_charge

    def broken_first(payment: Payment) -> Any:
        if payment.id == broken.id:
            raise error
        return real_find(payment)

    fake_psp.find_charge = broken_first  # type: ignore[method-assign]
    fake_clock.advance(STUCK)

    result = run_pass(ctx)

    assert result.failed == 1
    assert stored_payment(fake_uow, fine.id).status is PaymentStatus.SUCCEEDED


def test_no_transaction_is_open_while_the_janitor_asks_the_psp(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment_in("processing")
    payment_in("created")
    open_during_calls: list[int] = []
    fake_psp.on_call = lambda: open_during_calls.append(fake_uow.open_transactions)
    fake_clock.advance(STUCK)

    run_pass(ctx)

    assert open_during_calls and set(open_during_calls) == {0}


def test_a_failure_reported_before_the_success_is_corrected_by_the_psps_record(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("processing")
    apply_payment_report(
        report_about(payment, "failed"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    fake_psp.settle(payment.id, "succeeded")

    run_pass(ctx)

    corrected = stored_payment(fake_uow, payment.id)
    assert (corrected.status, corrected.failure_code) == (PaymentStatus.SUCCEEDED, None)
    assert corrected.refundable_amount == corrected.amount
    events = on_the_wire(fake_uow)
    assert [(e.type, e.data["corrected_from"]) for e in events] == [
        ("payment.failed", None),
        ("payment.succeeded", "failed"),
    ]


def test_a_success_report_the_psp_denies_is_corrected_to_the_psps_failure(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("processing")
    apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    apply_payment_report(
        report_about(payment, "failed"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    fake_psp.settle(payment.id, "failed", "card_declined")

    run_pass(ctx)

    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.FAILED
    last = decode(*encode(fake_uow.published[-1]))
    assert (last.type, last.data["corrected_from"]) == ("payment.failed", "succeeded")


def test_a_contradiction_the_psp_denies_changes_nothing(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("succeeded")
    apply_payment_report(
        report_about(payment, "failed"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )

    run_pass(ctx)

    kept = stored_payment(fake_uow, payment.id)
    assert (kept.status, kept.recheck.due_at) == (PaymentStatus.SUCCEEDED, None)
    assert fake_uow.published == []


def test_a_refunded_payment_the_psp_says_failed_is_left_for_people(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(1000)
    payment = stored_payment(fake_uow, refund.payment_id)
    apply_payment_report(
        report_about(payment, "failed"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    fake_psp.settle(payment.id, "failed", "card_declined")

    run_pass(ctx)

    kept = stored_payment(fake_uow, payment.id)
    assert (kept.status, kept.pending_refund_amount) == (PaymentStatus.SUCCEEDED, 1000)
    assert fake_uow.reports.rows[-1].judgement.verdict == "contradicted"
    assert fake_uow.reports.rows[-1].report.source == "psp_record"


def test_a_configuration_error_at_the_psp_is_retried_later_never_a_decline(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    fake_psp.fail("find_charge", ProviderMisconfigured(404, "not_found", "wrong PSP_URL"))
    fake_clock.advance(STUCK)

    result = run_pass(ctx)

    assert result.failed == 1
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.CREATED


# Refunds


def test_a_refund_whose_webhook_never_came_is_settled_from_the_psps_record(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(2000)
    send_refund(refund.id, ctx)
    fake_psp.settle_refund(refund.id, "succeeded")
    fake_clock.advance(STUCK)

    run_pass(ctx)

    assert stored_refund(fake_uow, refund.id).status is RefundStatus.SUCCEEDED
    payment = stored_payment(fake_uow, refund.payment_id)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.PARTIALLY_REFUNDED, 2000)


def test_a_refund_whose_retries_ran_out_is_sent_by_the_janitor(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    request_refund: Callable[..., Refund],
) -> None:
    refund = request_refund(2000)
    fake_psp.fail("refund", ProviderUnavailable("down"))
    with pytest.raises(ProviderUnavailable):
        send_refund(refund.id, ctx)
    fake_psp.fail("refund", None)
    fake_psp.refunds_will("succeeded")
    fake_clock.advance(STUCK)

    run_pass(ctx)

    assert stored_refund(fake_uow, refund.id).status is RefundStatus.SUCCEEDED
    assert stored_payment(fake_uow, refund.payment_id).pending_refund_amount == 0


def test_an_outcome_learned_from_a_report_alone_is_confirmed_once_by_the_psp(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("processing")
    fake_psp.settle(payment.id, "succeeded")
    apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    fake_clock.advance(CONFIRM_AFTER.total_seconds())
    fake_psp.calls.clear()

    run_pass(ctx)
    run_pass(ctx)

    assert fake_psp.calls == [("find_charge", payment.id)]
    assert stored_payment(fake_uow, payment.id).recheck.due_at is None
    assert fake_uow.published_types() == ["payment.succeeded"]


def test_a_signed_success_the_psp_never_made_is_corrected_even_without_another_report(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    """A declined card: the PSP's own FAILED webhook may never come; its record still decides."""
    payment = payment_in("processing")
    fake_psp.settle(payment.id, "failed", "card_declined")
    apply_payment_report(
        report_about(payment, "succeeded"), fake_uow, fake_clock(), confirm_after=CONFIRM_AFTER
    )
    fake_clock.advance(CONFIRM_AFTER.total_seconds())

    run_pass(ctx)

    corrected = stored_payment(fake_uow, payment.id)
    assert (corrected.status, corrected.failure_code) == (PaymentStatus.FAILED, "card_declined")
    assert [(e.type, e.data["corrected_from"]) for e in on_the_wire(fake_uow)] == [
        ("payment.succeeded", None),
        ("payment.failed", "succeeded"),
    ]


def test_a_success_without_a_charge_id_ends_with_the_psps_so_refunds_reach_it(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
    request_refund: Callable[..., Refund],
) -> None:
    payment = payment_in("created")
    fake_psp.charge(payment)  # made at the PSP; the charger never heard back
    verdict = apply_payment_report(
        report_about(payment, "succeeded", psp_reference=None),
        fake_uow,
        fake_clock(),
        confirm_after=CONFIRM_AFTER,
    )

    run_pass(ctx)

    assert verdict == "unconfirmed"
    settled = stored_payment(fake_uow, payment.id)
    assert (settled.status, settled.psp_reference) == (
        PaymentStatus.SUCCEEDED,
        fake_psp.charges[payment.id].id,
    )
    refund = request_refund(1000, payment=settled)
    send_refund(refund.id, ctx)
    assert fake_psp.calls[-1] == ("refund", refund.id, fake_psp.charges[payment.id].id)


def test_a_psp_record_in_another_currency_is_kept_for_people_not_applied(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("processing")
    fake_psp.charges[payment.id] = dataclasses.replace(
        fake_psp.charges[payment.id], currency="JPY", status=PspStatus.SUCCEEDED
    )
    fake_clock.advance(STUCK)

    run_pass(ctx)

    kept = stored_payment(fake_uow, payment.id)
    assert kept.status is PaymentStatus.PROCESSING
    assert fake_uow.published == []
    [report] = fake_uow.reports.rows
    assert (report.report.source, report.judgement.verdict) == ("psp_record", "contradicted")
    assert "currency JPY is not the EUR we hold" in (report.judgement.reason or "")
