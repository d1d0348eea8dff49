"""Charging a payment at the PSP, through the real use case over the fakes.

Events are read the way consumers read them: encoded and decoded again, so an event its schema
would refuse fails the test that made it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payevents import new_event
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.psp import ChargeRecord, PspStatus
from payment_service.service_layer.charging import charge_payment
from payment_service.service_layer.context import ProviderContext
from payment_service.service_layer.errors import UnknownPayment
from payment_service.service_layer.provider import (
    ProviderDeclined,
    ProviderMisconfigured,
    ProviderUnavailable,
)
from payment_service.testing import (
    FakeClock,
    FakeProvider,
    FakeUnitOfWork,
    charge_id_for,
    on_the_wire,
    stored_payment,
)


def test_no_transaction_is_open_while_the_psp_is_charging(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    open_during_call: list[int] = []
    fake_psp.on_call = lambda: open_during_call.append(fake_uow.open_transactions)

    charge_payment(payment.id, ctx)

    assert open_during_call == [0]
    assert fake_uow.committed == 2  # the intent, then the answer


def test_the_intent_is_committed_before_the_call_so_the_janitor_finds_a_lost_one(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    fake_clock: FakeClock,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    seen: list[Payment] = []
    fake_psp.on_call = lambda: seen.append(stored_payment(fake_uow, payment.id))
    fake_psp.fail("charge", ProviderUnavailable("the process died here, say"))

    with pytest.raises(ProviderUnavailable):
        charge_payment(payment.id, ctx)

    assert seen[0].recheck.due_at == fake_clock() + ctx.stuck_after
    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.CREATED
    assert fake_uow.published == []


def test_a_charge_the_psp_is_still_working_on_leaves_the_payment_processing(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    fake_psp.charges_will("processing")

    charge_payment(payment.id, ctx)

    charged = stored_payment(fake_uow, payment.id)
    assert charged.status is PaymentStatus.PROCESSING
    assert charged.psp_reference == charge_id_for(payment.id)
    assert charged.recheck.due_at is not None  # the janitor asks if no webhook comes
    assert fake_psp.calls == [("charge", payment.id)]
    [event] = on_the_wire(fake_uow)
    assert (event.type, event.data["psp_reference"]) == (
        "payment.processing",
        charged.psp_reference,
    )


def test_a_charge_the_psp_confirms_at_once_goes_through_processing_to_succeeded(
    fake_uow: FakeUnitOfWork, ctx: ProviderContext, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("created")

    charge_payment(payment.id, ctx)

    charged = stored_payment(fake_uow, payment.id)
    assert charged.status is PaymentStatus.SUCCEEDED
    assert charged.recheck.due_at is None
    events = on_the_wire(fake_uow)
    assert [event.type for event in events] == ["payment.processing", "payment.succeeded"]
    assert events[1].data["corrected_from"] is None


def test_a_charge_the_psp_declines_fails_the_payment_with_the_psp_code(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    fake_psp.fail("charge", ProviderDeclined("unknown_payment_method", "not a test token"))

    charge_payment(payment.id, ctx)

    failed = stored_payment(fake_uow, payment.id)
    assert (failed.status, failed.failure_code) == (PaymentStatus.FAILED, "unknown_payment_method")
    assert [event.type for event in on_the_wire(fake_uow)] == [
        "payment.processing",
        "payment.failed",
    ]


def test_a_charge_the_psp_answers_as_failed_keeps_the_psp_code(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    fake_psp.charges_will("failed", "insufficient_funds")

    charge_payment(payment.id, ctx)

    assert stored_payment(fake_uow, payment.id).failure_code == "insufficient_funds"
    assert on_the_wire(fake_uow)[-1].data["failure_code"] == "insufficient_funds"


@pytest.mark.parametrize(
    "error",
    [
        ProviderUnavailable("PSP timed out"),
        ProviderMisconfigured(404, "not_found", "no such path"),
        ProviderMisconfigured(401, "unauthorized", "bad credentials"),
    ],
)
def test_a_psp_that_gives_no_answer_or_no_decline_changes_nothing_so_the_charge_is_retried(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
    error: Exception,
) -> None:
    payment = payment_in("created")
    fake_psp.fail("charge", error)

    with pytest.raises(type(error)):
        charge_payment(payment.id, ctx)

    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.CREATED
    assert fake_uow.published == []


@pytest.mark.parametrize("status", ["processing", "succeeded", "failed", "canceled"])
def test_a_payment_past_created_is_not_charged_again(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
    status: str,
) -> None:
    payment = payment_in(status)

    charge_payment(payment.id, ctx)

    assert fake_psp.calls == []
    assert fake_uow.published == []
    assert stored_payment(fake_uow, payment.id).status == status


def test_a_charge_repeated_after_its_answer_was_lost_reuses_the_charge(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created")
    fake_psp.fail("charge", ProviderUnavailable("timed out"))
    with pytest.raises(ProviderUnavailable):
        charge_payment(payment.id, ctx)
    fake_psp.fail("charge", None)

    charge_payment(payment.id, ctx)

    assert len(fake_psp.charges) == 1
    assert fake_uow.published_types() == ["payment.processing", "payment.succeeded"]


def test_charging_a_payment_this_service_never_created_is_refused(
    fake_psp: FakeProvider, ctx: ProviderContext
) -> None:
    with pytest.raises(UnknownPayment):
        charge_payment("PAY_unknown", ctx)

    assert fake_psp.calls == []


def test_events_of_a_charge_follow_the_created_event_that_caused_them(
    fake_uow: FakeUnitOfWork, ctx: ProviderContext, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("created")
    created = new_event(
        "payment.created",
        {**payment.facts(), "payment_method": payment.payment_method},
        source="payment",
        subject=payment.id,
    )

    charge_payment(payment.id, ctx, created)

    for event in on_the_wire(fake_uow):
        assert (event.correlation_id, event.causation_id) == (created.correlation_id, created.id)


def test_a_charge_the_psp_recorded_for_another_amount_is_kept_for_people_not_applied(
    fake_uow: FakeUnitOfWork,
    fake_psp: FakeProvider,
    ctx: ProviderContext,
    payment_in: Callable[..., Payment],
) -> None:
    payment = payment_in("created", amount=3000)
    fake_psp.charges[payment.id] = ChargeRecord(
        charge_id_for(payment.id), payment.id, 3001, "EUR", PspStatus.SUCCEEDED
    )

    charge_payment(payment.id, ctx)

    assert stored_payment(fake_uow, payment.id).status is PaymentStatus.CREATED
    assert fake_uow.published == []
    [kept] = fake_uow.reports.rows
    assert kept.judgement.verdict == "contradicted"
    assert "amount 3001" in (kept.judgement.reason or "")
