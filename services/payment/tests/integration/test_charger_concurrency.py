"""The charger, with its production consumer settings, charges payments side by side and still
routes each outcome as it did one at a time (real PostgreSQL and Kafka)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from psycopg_pool import ConnectionPool

from localcluster.testing import ClusterEnv
from payevents import Envelope, new_event
from payevents.topics import Topic
from paykit.consumer import Consumer, ConsumerSettings
from paykit.consumer.routing import H_ATTEMPTS, header
from paykit.db import create_pool
from paykit.kafka_clients import create_consumer, create_producer
from paykit.testing import read_topic, running, wait_until
from payment_service.bootstrap import PaymentService
from payment_service.domain.payment import Payment, PaymentStatus
from payment_service.domain.psp import ChargeRecord
from payment_service.entrypoints.consumers import charger
from payment_service.entrypoints.workers import charger_settings
from payment_service.service_layer import payments
from payment_service.service_layer.commands import CreatePayment
from payment_service.service_layer.provider import ProviderDeclined, ProviderUnavailable
from payment_service.settings import PaymentSettings
from payment_service.testing import FakeProvider

pytestmark = pytest.mark.integration


class MeetingPsp(FakeProvider):
    """Answers a first charge only once ``parties`` first charges are in flight at once; the
    payment method says what the answer is."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.meeting = threading.Barrier(parties, timeout=5)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def charge(self, payment: Payment) -> ChargeRecord:
        with self._lock:
            first = payment.id not in self._seen
            self._seen.add(payment.id)
        if first:
            self.meeting.wait()
        if payment.payment_method == "pm_card_unknown":
            raise ProviderDeclined("unknown_payment_method", "no such card")
        if payment.payment_method == "pm_card_flaky" and first:
            raise ProviderUnavailable("the PSP did not answer")
        return super().charge(payment)


@pytest.fixture
def one_partition(cluster: ClusterEnv, unique: str) -> Topic:
    """Every event in one partition, so the first poll takes them all in one batch."""
    return cluster.private_topic(f"payment-charger-{unique}", partitions=1)


@pytest.fixture
def runtime_pool(payment_db: str) -> Iterator[ConnectionPool]:
    """The consumer runtime's own pool, as ``run_consumer`` makes it (two connections)."""
    pool = create_pool(payment_db, max_size=2, name="payment-charger-runtime")
    yield pool
    pool.close()


@pytest.fixture
def charger_on(
    cluster: ClusterEnv, payment_settings: PaymentSettings, runtime_pool: ConnectionPool
) -> Iterator[Callable[[Topic, PaymentService], Consumer]]:
    """The charger's consumer as ``run_charger`` configures it, on a topic of the test's own."""
    closers: list[Callable[[], None]] = []

    def build(topic: Topic, service: PaymentService) -> Consumer:
        production = charger_settings(payment_settings)
        group = topic.consumers[0].name
        settings = ConsumerSettings(
            topic,
            group,
            batch_size=production.batch_size,
            transaction_per_batch=production.transaction_per_batch,
            handler_transactions=production.handler_transactions,
            handler_concurrency=production.handler_concurrency,
            batch_deadline=production.batch_deadline,
        )
        producer = create_producer(cluster.bootstrap_servers, client_id=group)
        closers.append(producer.close)
        kafka = create_consumer(cluster.bootstrap_servers, group_id=group, client_id=group)
        return Consumer(settings, charger(service), runtime_pool, kafka, producer)

    yield build
    for close in closers:
        close()


def new_payment(service: PaymentService, merchant: str, method: str) -> Payment:
    with service.transactions() as uow:
        return payments.create_payment(
            CreatePayment(merchant, 3000, "EUR", method),
            uow,
            now=service.clock(),
            charge_within=timedelta(minutes=5),
        )


def created_event(payment: Payment) -> Envelope:
    return new_event(
        "payment.created",
        {**payment.facts(), "payment_method": payment.payment_method},
        source="payment",
        subject=payment.id,
    )


def test_the_charger_charges_side_by_side_and_each_outcome_goes_where_it_always_went(
    cluster: ClusterEnv,
    payment_settings: PaymentSettings,
    make_service: Callable[..., PaymentService],
    one_partition: Topic,
    charger_on: Callable[[Topic, PaymentService], Consumer],
    publish: Callable[[str, Envelope], None],
    merchant: str,
) -> None:
    methods = ["pm_card_visa", "pm_card_visa", "pm_card_unknown", "pm_card_flaky"]
    assert payment_settings.charger_concurrency >= len(methods)
    psp = MeetingPsp(parties=len(methods))  # one charge at a time, none would ever be answered
    service = make_service(psp)
    made = [new_payment(service, merchant, method) for method in methods]
    for payment in made:
        publish(one_partition.name, created_event(payment))

    def statuses() -> list[PaymentStatus]:
        with service.transactions() as uow:
            found = [uow.payments.get(payment.id) for payment in made]
        return [payment.status for payment in found if payment is not None]

    expected = [PaymentStatus.SUCCEEDED, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED]
    consumer = charger_on(one_partition, service)
    with running(consumer):
        assert wait_until(lambda: statuses() == [*expected, PaymentStatus.SUCCEEDED], timeout=30)
    assert not psp.meeting.broken
    retry_tier = one_partition.retry_topic(one_partition.consumers[0].name, 1)
    retried = read_topic(cluster.bootstrap_servers, retry_tier)
    assert [(r.key, header(r.headers, H_ATTEMPTS)) for r in retried] == [(made[3].id.encode(), "1")]
