"""Kafka fixtures for the settlement consumers' tests: a private topic, a publisher, consumers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kafka import KafkaProducer

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payevents import Envelope, encode
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer import Consumer, ConsumerSettings, Handler
from paykit.db import create_pool
from paykit.kafka_clients import create_consumer, create_producer


@pytest.fixture
def topic(cluster: ClusterEnv) -> Topic:
    """A topic of the test's own, three partitions, retry tiers of 0.3-0.9 s."""
    unique = uuid.uuid4().hex[:10]
    created = Topic(
        name=f"settlement-tests-{unique}",
        partitions=3,
        key="merchant id",
        consumers=(ConsumerGroup(f"settlement-tests-{unique}", retry_delays=(0.3, 0.6, 0.9)),),
    )
    ensure_topics(cluster.bootstrap_servers, (created,))
    return created


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
