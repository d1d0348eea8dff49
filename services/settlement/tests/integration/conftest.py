"""Fixtures of the settlement integration tests: the bank (the real PSP simulator's payouts
API, served on a free port over the cluster's Redis under a key prefix of the test's own), a
private topic, a publisher and consumers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer

from localcluster.testing import ClusterEnv
from payevents import Envelope, encode
from payevents.topics import Topic
from paykit.consumer import Consumer, ConsumerSettings, Handler
from paykit.db import create_pool
from paykit.kafka_clients import create_consumer, create_producer
from paykit.settings import Secret
from psp_simulator.bootstrap import connect_redis
from psp_simulator.domain.outcomes import Timings
from psp_simulator.settings import SimulatorSettings
from psp_simulator.testing import AppFactory, serving
from settlement_service.adapters.bank_http import HttpBank

# Payouts are decided 0.1 s after they are made, so a test waits on the bank briefly.
BANK_TIMINGS = Timings(
    outcome_delay=0.1,
    response_delay=2.0,
    slow_webhook_delay=1.0,
    late_webhook_delay=0.3,
    payout_delay=0.1,
)


@pytest.fixture
def bank_url(cluster: ClusterEnv) -> Iterator[str]:
    """The simulator's HTTP API (its payouts are the bank's) on a free local port."""
    client = connect_redis(cluster.redis_url)
    settings = SimulatorSettings(
        redis_url=Secret(cluster.redis_url),
        key_prefix=f"settlement-bank-{uuid.uuid4().hex[:10]}",
        timings=BANK_TIMINGS,
    )
    factory = AppFactory(settings, client)
    try:
        with serving(factory()) as url:
            yield url
            factory.stopping.set()
    finally:
        client.close()


@pytest.fixture
def bank(bank_url: str) -> Iterator[HttpBank]:
    """The settlement service's own client of the bank, pointed at the simulator."""
    client = HttpBank(bank_url, timeout_seconds=5.0, backoff_seconds=0.05)
    yield client
    client.close()


@pytest.fixture
def bank_admin(bank_url: str) -> Iterator[httpx.Client]:
    """The simulator's test controls (faults) and its raw API, as the bank's operator."""
    with httpx.Client(base_url=bank_url, timeout=10) as client:
        yield client
        client.delete("/_admin/faults")


@pytest.fixture
def topic(cluster: ClusterEnv) -> Topic:
    """A topic of the test's own, three partitions, retry tiers of 0.3-0.9 s."""
    return cluster.private_topic(
        f"settlement-tests-{uuid.uuid4().hex[:10]}", partitions=3, key="merchant id"
    )


@pytest.fixture
def publish(cluster: ClusterEnv) -> Iterator[Callable[[Topic, Envelope], None]]:
    producer: KafkaProducer = create_producer(
        cluster.bootstrap_servers, client_id="settlement-tests"
    )

    def send(topic: Topic, envelope: Envelope) -> None:
        value, headers = encode(envelope)
        producer.send(topic.name, key=envelope.subject.encode(), value=value, headers=headers)
        producer.flush()

    yield send
    producer.close()


@pytest.fixture
def consumer_on(cluster: ClusterEnv) -> Iterator[Callable[..., Consumer]]:
    """A consumer with the given handler over a database and a topic, run by the test."""
    closers: list[Callable[[], None]] = []

    def build(database_url: str, topic: Topic, handler: Handler, **settings: Any) -> Consumer:
        group = topic.consumers[0].name
        pool = create_pool(database_url, max_size=2)
        producer = create_producer(cluster.bootstrap_servers, client_id=group)
        kafka = create_consumer(cluster.bootstrap_servers, group_id=group, client_id=group)
        closers.extend([pool.close, producer.close])
        return Consumer(ConsumerSettings(topic, group, **settings), handler, pool, kafka, producer)

    yield build
    for close in reversed(closers):
        close()
