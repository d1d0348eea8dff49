"""How the consumers route what the use cases refuse: the kit retries or dead-letters it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payevents import Envelope, new_event
from paykit.consumer import InvalidMessage, NotYetApplicable, RetryableError
from paykit.settings import Secret
from payment_service.bootstrap import PaymentService, bootstrap
from payment_service.domain.payment import Payment
from payment_service.entrypoints.consumers import charger, status_applier
from payment_service.entrypoints.workers import charger_batch_size
from payment_service.service_layer.provider import ProviderMisconfigured, ProviderUnavailable
from payment_service.settings import load
from payment_service.testing import FakeClock, FakeProvider, FakeUnitOfWork, stored_payment


@pytest.fixture
def service(
    fake_uow: FakeUnitOfWork, fake_psp: FakeProvider, fake_clock: FakeClock
) -> PaymentService:
    settings = load(
        {
            "PAYMENT_DATABASE_URL": "postgresql://unused",
            "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
            "PSP_URL": "http://psp",
            "AUTH_ISSUER": "gateway",
            "AUTH_AUDIENCE": "payments",
            "AUTH_JWKS_PATH": "/nonexistent",
        }
    )
    assert isinstance(settings.database_url, Secret)
    return bootstrap(
        settings,
        transactions=fake_uow.transaction,
        psp=fake_psp,
        unit_of_work_on=lambda conn: fake_uow,
        clock=fake_clock,
    )


class NoConnection:
    """The runtime's connection; the charger must not touch it (its work has its own)."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the charger used the runtime's connection ({name})")


def created(payment_id: str) -> Envelope:
    return new_event(
        "payment.created",
        {
            "payment_id": payment_id,
            "merchant_id": "MER_1",
            "amount": 100,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
        },
        source="payment",
        subject=payment_id,
    )


def report(payment_id: str) -> Envelope:
    return new_event(
        "psp.payment_status_received",
        {
            "psp_event_id": "evt_1",
            "payment_id": payment_id,
            "received_at": "2025-03-01T12:00:00Z",
            "status": "succeeded",
            "amount": 100,
            "currency": "EUR",
            "psp_reference": "ch_1",
        },
        source="webhook",
        subject=payment_id,
    )


def test_the_charger_works_on_its_own_connection_not_the_runtimes(
    service: PaymentService, fake_uow: FakeUnitOfWork, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("created")

    charger(service)(NoConnection(), created(payment.id))  # type: ignore[arg-type]

    assert stored_payment(fake_uow, payment.id).status == "succeeded"


@pytest.mark.parametrize(
    "error", [ProviderUnavailable("down"), ProviderMisconfigured(404, "not_found", "wrong path")]
)
def test_a_psp_without_an_answer_or_misconfigured_is_retried_through_the_tiers(
    service: PaymentService,
    fake_psp: FakeProvider,
    payment_in: Callable[..., Payment],
    error: Exception,
) -> None:
    payment = payment_in("created")
    fake_psp.fail("charge", error)

    with pytest.raises(RetryableError):
        charger(service)(NoConnection(), created(payment.id))  # type: ignore[arg-type]


def test_the_charger_dead_letters_its_own_event_about_a_payment_that_does_not_exist(
    service: PaymentService,
) -> None:
    with pytest.raises(InvalidMessage):
        charger(service)(NoConnection(), created("PAY_never"))  # type: ignore[arg-type]


def test_a_report_about_an_unknown_payment_retries_through_the_tiers_not_straight_to_the_dlq(
    service: PaymentService,
) -> None:
    """It may be a race; a burst of them must never trip the DLQ limit."""
    with pytest.raises(NotYetApplicable):
        status_applier(service)(NoConnection(), report("PAY_not_yet"))  # type: ignore[arg-type]


def test_a_payout_outcome_on_webhook_events_is_applied_as_nothing(
    service: PaymentService, fake_uow: FakeUnitOfWork, payment_in: Callable[..., Payment]
) -> None:
    payment = payment_in("processing")
    payout = new_event(
        "psp.payout_status_received",
        {
            "payout_id": "po_1",
            "batch_id": "BAT_1",
            "attempt": 1,
            "merchant_id": "MER_1",
            "status": "paid",
            "amount": 100,
            "currency": "EUR",
            "occurred_at": "2025-03-01T12:00:00Z",
        },
        source="webhook",
        subject="BAT_1",
    )

    status_applier(service)(NoConnection(), payout)  # type: ignore[arg-type]

    assert stored_payment(fake_uow, payment.id).status == "processing"
    assert fake_uow.published == []


@pytest.mark.parametrize(("timeout", "batch"), [(1, 20), (2, 20), (10, 12), (60, 2), (300, 1)])
def test_a_charger_batch_whose_every_call_times_out_ends_well_within_the_poll_interval(
    timeout: float, batch: int
) -> None:
    assert charger_batch_size(timeout) == batch
    assert batch * (timeout + 2) <= 150 or batch == 1
