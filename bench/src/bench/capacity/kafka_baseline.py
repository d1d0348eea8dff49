"""Plain kafka-python throughput on the cluster's broker: produce N messages, then read them all.

The ceiling the relays and consumers work under: messages of about a payment event's size
(1 KiB), produced with the platform's producer settings (``paykit.kafka_clients``: idempotent,
``acks='all'``, 5 ms linger, as the relay's), keyed by a fresh id as payment events are, into a
scratch topic with the payment topic's partition count. The consumer reads without a group
(assigned partitions, read committed), so no group join is timed. The topic is deleted after.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from localcluster.topics import ensure_topics
from payevents.topics import PAYMENT_EVENTS, Topic
from paykit.kafka_clients import create_producer

PAYMENT_EVENT_BYTES = 1024
FLUSH_TIMEOUT_SECONDS = 120
READ_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class KafkaResult:
    messages: int
    message_bytes: int
    produced: int
    produce_seconds: float
    consumed: int
    consume_seconds: float

    @property
    def produced_per_second(self) -> float:
        return self.produced / self.produce_seconds if self.produce_seconds > 0 else 0.0

    @property
    def consumed_per_second(self) -> float:
        return self.consumed / self.consume_seconds if self.consume_seconds > 0 else 0.0


def _produce(bootstrap_servers: str, topic: str, messages: int, size: int) -> tuple[int, float]:
    """Messages the broker acknowledged, and the time from the first send to the last ack."""
    producer = create_producer(bootstrap_servers, client_id="bench-capacity")
    payload = b"x" * size
    try:
        started = time.perf_counter()
        sent = [
            producer.send(topic, key=uuid.uuid4().hex.encode(), value=payload)
            for _ in range(messages)
        ]
        producer.flush(timeout=FLUSH_TIMEOUT_SECONDS)
        elapsed = time.perf_counter() - started
    finally:
        producer.close(timeout=10)
    return sum(1 for future in sent if future.succeeded()), elapsed


def _consume(bootstrap_servers: str, topic: str, expected: int) -> tuple[int, float]:
    """Records read from the start of every partition, and the time the reading took."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
        client_id="bench-capacity",
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        consumed = 0
        started = time.perf_counter()
        deadline = started + READ_TIMEOUT_SECONDS
        while consumed < expected and time.perf_counter() < deadline:
            for batch in consumer.poll(timeout_ms=500, max_records=5000).values():
                consumed += len(batch)
        return consumed, time.perf_counter() - started
    finally:
        consumer.close()


def kafka_round_trip(
    bootstrap_servers: str, *, messages: int = 20_000, message_bytes: int = PAYMENT_EVENT_BYTES
) -> KafkaResult:
    """Produce ``messages`` into a scratch topic, read them all back, delete the topic."""
    scratch = Topic(
        name=f"bench-capacity-{uuid.uuid4().hex[:10]}",
        partitions=PAYMENT_EVENTS.partitions,
        key="a fresh id per message, as payment events are keyed by payment id",
        consumers=(),
    )
    ensure_topics(bootstrap_servers, (scratch,))
    try:
        produced, produce_seconds = _produce(
            bootstrap_servers, scratch.name, messages, message_bytes
        )
        consumed, consume_seconds = _consume(bootstrap_servers, scratch.name, produced)
    finally:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="bench-capacity")
        try:
            with contextlib.suppress(KafkaError):
                admin.delete_topics([scratch.name])
        finally:
            admin.close()
    return KafkaResult(
        messages, message_bytes, produced, produce_seconds, consumed, consume_seconds
    )
