"""Reading a topic to the end it had at the start: the whole topic or some partitions, with one
consumer serving many reads, and a clear error for a topic that does not exist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payevents.topics import Topic
from paykit.kafka_clients import create_producer
from paykit.kafka_reading import UnknownTopic, read_to_end

pytestmark = pytest.mark.integration


@pytest.fixture
def reader(cluster: ClusterEnv) -> Iterator[KafkaConsumer]:
    consumer = KafkaConsumer(
        bootstrap_servers=cluster.bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    yield consumer
    consumer.close()


def _values(records: Iterator[object]) -> list[bytes]:
    return sorted(record.value for record in records)  # type: ignore[attr-defined]


def test_one_consumer_reads_a_topic_or_its_partitions_to_the_end_again_and_again(
    cluster: ClusterEnv, reader: KafkaConsumer, unique: str
) -> None:
    topic = Topic(f"reading-{unique}", partitions=2, key="n", consumers=())
    ensure_topics(cluster.bootstrap_servers, (topic,))
    producer = create_producer(cluster.bootstrap_servers, client_id="reading-tests")
    try:
        for n, partition in enumerate((0, 0, 0, 1, 1)):
            producer.send(topic.name, value=b"%d" % n, partition=partition)
        producer.flush()

        assert _values(read_to_end(reader, topic.name, timeout=10)) == [
            b"0",
            b"1",
            b"2",
            b"3",
            b"4",
        ]
        assert _values(read_to_end(reader, topic.name, partitions=[1], timeout=10)) == [b"3", b"4"]
        assert _values(read_to_end(reader, topic.name, partitions=[], timeout=10)) == []

        producer.send(topic.name, value=b"5", partition=1)
        producer.flush()
        assert _values(read_to_end(reader, topic.name, partitions=[1], timeout=10)) == [
            b"3",
            b"4",
            b"5",
        ]
    finally:
        producer.close()


def test_a_topic_that_does_not_exist_is_named_in_the_error(
    reader: KafkaConsumer, unique: str
) -> None:
    with pytest.raises(UnknownTopic, match=f"topic nowhere-{unique} does not exist"):
        list(read_to_end(reader, f"nowhere-{unique}", timeout=5))
