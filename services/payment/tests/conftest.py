"""Fixtures for the payment service's tests: the fakes of ``payment_service.testing``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from payment_service.domain.payment import Payment
from payment_service.domain.recheck import Backoff
from payment_service.domain.refund import Refund
from payment_service.service_layer import payments
from payment_service.service_layer.charging import charge_payment
from payment_service.service_layer.commands import CreatePayment, RequestRefund
from payment_service.service_layer.context import ProviderContext
from payment_service.testing import FakeClock, FakeProvider, FakeUnitOfWork

STUCK_AFTER = timedelta(minutes=5)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_uow(fake_clock: FakeClock) -> FakeUnitOfWork:
    return FakeUnitOfWork(fake_clock)


@pytest.fixture
def fake_psp() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def ctx(fake_uow: FakeUnitOfWork, fake_psp: FakeProvider, fake_clock: FakeClock) -> ProviderContext:
    return ProviderContext(
        transactions=fake_uow.transaction,
        psp=fake_psp,
        clock=fake_clock,
        stuck_after=STUCK_AFTER,
        backoff=Backoff(first=STUCK_AFTER, longest=timedelta(hours=1)),
    )


MERCHANT = "MER_1"


@pytest.fixture
def payment_in(
    fake_uow: FakeUnitOfWork, fake_psp: FakeProvider, fake_clock: FakeClock, ctx: ProviderContext
) -> Callable[..., Payment]:
    """Brings a new payment to a status through the real use cases, then forgets the events and
    PSP calls that took, so each test sees only what it causes."""

    def bring(status: str = "created", *, amount: int = 10_000) -> Payment:
        command = CreatePayment(
            merchant_id=MERCHANT, amount=amount, currency="EUR", payment_method="pm_card_visa"
        )
        payment = payments.create_payment(
            command, fake_uow, now=fake_clock(), charge_within=STUCK_AFTER
        )
        if status != "created":
            fake_psp.charges_will(status, "card_declined" if status == "failed" else None)
            charge_payment(payment.id, ctx)
            fake_psp.charges_will("succeeded")
        fake_uow.published.clear()
        fake_psp.calls.clear()
        found = fake_uow.payments.get(payment.id)
        assert found is not None and found.status == status
        return found

    return bring


@pytest.fixture
def request_refund(
    fake_uow: FakeUnitOfWork, fake_clock: FakeClock, payment_in: Callable[..., Payment]
) -> Callable[..., Refund]:
    """Requests a refund of a captured payment and forgets the refund.requested event."""

    def request(amount: int | None = None, *, payment: Payment | None = None) -> Refund:
        payment = payment or payment_in("succeeded")
        refund = payments.request_refund(
            RequestRefund(MERCHANT, payment.id, amount),
            fake_uow,
            now=fake_clock(),
            send_within=STUCK_AFTER,
        )
        fake_uow.published.clear()
        return refund

    return request
