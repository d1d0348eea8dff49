from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer
from psycopg_pool import ConnectionPool

from localcluster.testing import ClusterEnv
from payevents import Envelope, encode, new_event
from payevents.topics import Topic
from paykit.consumer import Consumer, ConsumerSettings, Handler
from paykit.db import Connection, create_pool
from paykit.dlq import DeadLetter, list_dead_letters
from paykit.kafka_clients import create_consumer, create_producer
from paykit.migrations import KIT_MIGRATIONS
from paykit.testing import scratch_database

TEST_SQL = Path(__file__).with_name("sql")


@pytest.fixture(scope="session")
def kit_db(cluster: ClusterEnv) -> Iterator[str]:
    """A database with the kit's tables (outbox, inbox) and the tests' ``effects`` table."""
    with scratch_database(
        cluster.admin_url, {"kit": KIT_MIGRATIONS, "kit_tests": TEST_SQL}, prefix="kit"
    ) as url:
        yield url


@pytest.fixture
def topic(cluster: ClusterEnv, unique: str) -> Topic:
    """A private main topic with one consumer group whose retry tiers wait 0.3, 0.6, 0.9 s."""
    return cluster.private_topic(f"kit-{unique}", partitions=3, group=f"group-{unique}")


def payment_created(payment_id: str, label: str = "") -> Envelope:
    return new_event(
        "payment.created",
        {
            "payment_id": payment_id,
            "merchant_id": "MER_1",
            "amount": 1000,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "description": label,
        },
        source="kit-tests",
        subject=payment_id,
    )


@pytest.fixture
def make_event() -> Callable[..., Envelope]:
    return payment_created


@pytest.fixture(scope="session")
def kit_pool(kit_db: str) -> Iterator[ConnectionPool]:
    pool = create_pool(kit_db, max_size=4, name="kit-tests")
    yield pool
    pool.close()


def record_effect(conn: Connection, envelope: Envelope) -> None:
    """The tests' handler: one row per application of an event."""
    conn.execute(
        "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, %s)",
        (envelope.id, envelope.subject, envelope.data.get("description", "")),
    )


@pytest.fixture
def make_consumer(
    cluster: ClusterEnv, kit_pool: ConnectionPool
) -> Iterator[Callable[..., Consumer]]:
    producers: list[KafkaProducer] = []

    def build(topic: Topic, handler: Handler = record_effect, **settings: Any) -> Consumer:
        group = topic.consumers[0].name
        producer = create_producer(cluster.bootstrap_servers, client_id=group)
        producers.append(producer)
        kafka = create_consumer(cluster.bootstrap_servers, group_id=group, client_id=group)

        def lag_client() -> KafkaConsumer:
            return create_consumer(cluster.bootstrap_servers, group_id=group, client_id="lag")

        return Consumer(
            ConsumerSettings(topic, group, **settings),
            handler,
            kit_pool,
            kafka,
            producer,
            lag_client=lag_client,
        )

    yield build
    for producer in producers:
        producer.close()


@pytest.fixture
def effects(kit_pool: ConnectionPool) -> Callable[[str], list[tuple[str, str, str]]]:
    """(event_id, key, label) rows applied for events whose key starts with ``prefix``."""

    def rows(prefix: str) -> list[tuple[str, str, str]]:
        with kit_pool.connection() as conn:
            return [
                (r[0], r[1], r[2])
                for r in conn.execute(
                    "SELECT event_id, key, label FROM effects WHERE key LIKE %s ORDER BY seq",
                    (prefix + "%",),
                )
            ]

    return rows


@pytest.fixture
def publish(cluster: ClusterEnv) -> Iterator[Callable[..., None]]:
    producer = create_producer(cluster.bootstrap_servers, client_id="kit-tests")

    def send(
        topic: str, envelope: Envelope | None = None, *, raw: bytes | None = None, key: str = "raw"
    ) -> None:
        if envelope is not None:
            value, headers = encode(envelope)
            producer.send(topic, key=envelope.subject.encode(), value=value, headers=headers)
        else:
            producer.send(topic, key=key.encode(), value=raw or b"")
        producer.flush()

    yield send
    producer.close()


@pytest.fixture
def letters(cluster: ClusterEnv, topic: Topic) -> Callable[[], list[DeadLetter]]:
    """Every letter now in the DLQ of ``topic``'s group."""
    dlq = topic.dlq_topic(topic.consumers[0].name)
    return lambda: list_dead_letters(cluster.bootstrap_servers, dlq)
