"""Races with the PSP on the real PostgreSQL and Kafka: nothing waits on a provider call.

The charger and the janitor call the PSP with no transaction holding the payment's row, so the
status applier (or anything else) can lock and change it meanwhile; reports about payments we
do not have go through the retry tiers before the DLQ, so a burst of them cannot park the
consumer at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from localcluster.testing import ClusterEnv
from payevents import Envelope, new_event
from payevents.topics import Topic
from paykit.consumer.routing import header
from paykit.testing import read_topic, running, wait_until
from payment_service.bootstrap import PaymentService
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.entrypoints.consumers import charger, report_from, status_applier
from payment_service.entrypoints.workers import janitor_pass
from payment_service.service_layer import payments
from payment_service.service_layer.charging import charge_payment
from payment_service.service_layer.commands import CreatePayment
from payment_service.service_layer.provider import ProviderUnavailable
from payment_service.service_layer.reports import apply_payment_report
from payment_service.testing import FakeProvider, charge_id_for

CONFIRM_AFTER = timedelta(minutes=5)
pytestmark = pytest.mark.integration


class HeldPsp(FakeProvider):
    """A PSP that holds every call until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = threading.Event()
        self.go_on = threading.Event()

        def hold() -> None:
            self.inside.set()
            assert self.go_on.wait(20), "the test never let the PSP answer"

        self.on_call = hold


def new_payment(service: PaymentService, merchant: str, *, due_in: float = 300) -> Payment:
    with service.transactions() as uow:
        return payments.create_payment(
            CreatePayment(merchant, 3000, "EUR", "pm_card_visa"),
            uow,
            now=service.clock(),
            charge_within=timedelta(seconds=due_in),
        )


def status_of(service: PaymentService, payment_id: str) -> PaymentStatus:
    with service.transactions() as uow:
        payment = uow.payments.get(payment_id)
    assert payment is not None
    return payment.status


def lock_now(payment_db: str, payment_id: str) -> bool:
    """Whether the payment's row can be locked at once, as the status applier would lock it."""
    with psycopg.connect(payment_db) as conn:
        try:
            conn.execute("SELECT 1 FROM payments WHERE id = %s FOR UPDATE NOWAIT", (payment_id,))
        except psycopg.errors.LockNotAvailable:
            return False
    return True


def created_event(payment: Payment) -> Envelope:
    return new_event(
        "payment.created",
        {**payment.facts(), "payment_method": payment.payment_method},
        source="payment",
        subject=payment.id,
    )


def success_report(payment_id: str) -> Envelope:
    return new_event(
        "psp.payment_status_received",
        {
            "psp_event_id": f"evt_{payment_id}",
            "payment_id": payment_id,
            "received_at": "2025-03-01T12:00:00Z",
            "status": "succeeded",
            "amount": 3000,
            "currency": "EUR",
            "psp_reference": charge_id_for(payment_id),
        },
        source="webhook",
        subject=payment_id,
    )


def test_while_the_charger_waits_for_the_psp_the_payment_is_not_locked(
    make_service: Callable[..., PaymentService],
    private_topic: Topic,
    consumer_on: Callable[..., Any],
    publish: Callable[[str, Envelope], None],
    payment_db: str,
    merchant: str,
) -> None:
    psp = HeldPsp()
    service = make_service(psp)
    payment = new_payment(service, merchant)
    consumer = consumer_on(private_topic, charger(service), transaction_per_batch=False)
    publish(private_topic.name, created_event(payment))

    with running(consumer):
        assert psp.inside.wait(30), "the charger never called the PSP"
        locked_free = lock_now(payment_db, payment.id)
        with service.transactions() as uow:  # the status applier, meanwhile
            verdict = apply_payment_report(
                report_from(success_report(payment.id)),
                uow,
                service.clock(),
                confirm_after=CONFIRM_AFTER,
            )
        psp.go_on.set()
        assert wait_until(lambda: status_of(service, payment.id) is PaymentStatus.SUCCEEDED)

    assert locked_free
    assert verdict == "unconfirmed"  # the charge id was not ours yet: left to the PSP


def test_while_the_janitor_waits_for_the_psp_the_payment_is_not_locked(
    make_service: Callable[..., PaymentService], payment_db: str, merchant: str
) -> None:
    psp = HeldPsp()
    service = make_service(psp)
    payment = new_payment(service, merchant, due_in=0)
    finished = threading.Thread(target=janitor_pass, args=(service,))
    finished.start()
    try:
        assert psp.inside.wait(30), "the janitor never called the PSP"
        assert lock_now(payment_db, payment.id)
    finally:
        psp.go_on.set()
        finished.join(30)
    assert status_of(service, payment.id) is PaymentStatus.SUCCEEDED


def test_one_unanswered_payment_in_a_janitor_pass_undoes_and_blocks_nothing_else(
    make_service: Callable[..., PaymentService], merchant: str
) -> None:
    psp = FakeProvider()
    service = make_service(psp)
    made = [new_payment(service, merchant, due_in=0) for _ in range(3)]
    for payment in made:
        psp.charges_will("processing")
        charge_payment(payment.id, service.provider)
        psp.settle(payment.id, "succeeded")
    with service.transactions() as uow:  # all due now
        for payment in made:
            row = uow.payments.get_for_update(payment.id)
            assert row is not None
            row.recheck.now(service.clock() - timedelta(seconds=1))
            uow.payments.save(row)
    unanswered = made[1].id
    real_find = psp.find_charge

    def find(payment: Payment) -> Any:
        if payment.id == unanswered:
            raise ProviderUnavailable("timed out")
        return real_find(payment)

    psp.find_charge = find  # type: ignore[method-assign]

    janitor_pass(service)

    statuses = [status_of(service, payment.id) for payment in made]
    assert statuses == [PaymentStatus.SUCCEEDED, PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED]
    with service.transactions() as uow:
        pushed_back = uow.payments.get(unanswered)
    assert pushed_back is not None and pushed_back.recheck.due_at is not None
    assert pushed_back.recheck.due_at > service.clock()


def test_a_burst_of_reports_about_unknown_payments_goes_through_the_tiers_without_parking(
    cluster: ClusterEnv,
    make_service: Callable[..., PaymentService],
    private_topic: Topic,
    consumer_on: Callable[..., Any],
    publish: Callable[[str, Envelope], None],
    unique: str,
) -> None:
    consumer = consumer_on(private_topic, status_applier(make_service()))
    unknown = [f"PAY_unknown{unique}{n}" for n in range(12)]
    for payment_id in unknown:
        publish(private_topic.name, success_report(payment_id))
    dlq = private_topic.dlq_topic(private_topic.consumers[0].name)

    with running(consumer):
        assert wait_until(lambda: len(read_topic(cluster.bootstrap_servers, dlq)) == 12, 60)
        parked = consumer.held

    letters = read_topic(cluster.bootstrap_servers, dlq)
    assert parked is None
    assert {header(letter.headers, "x-attempts") for letter in letters} == {"4"}
    assert {header(letter.headers, "x-dlq-reason") for letter in letters} == {"retries_exhausted"}
