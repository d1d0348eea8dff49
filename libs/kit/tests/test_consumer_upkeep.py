"""What a consumer does beside its work: lag, inbox pruning, start-up checks of its settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError
from prometheus_client import REGISTRY
from psycopg_pool import ConnectionPool

from localcluster.testing import ClusterEnv
from payevents import Envelope, encode
from payevents.topics import PAYMENT_EVENTS, Topic
from paykit.consumer import Consumer, ConsumerConfigError, ConsumerSettings
from paykit.consumer.inbox import DLQ_RETENTION, INBOX_RETENTION, TOPIC_RETENTION, prune
from paykit.consumer.lag import LagReporter
from paykit.consumer.routing import H_ORIGINAL_TOPIC
from paykit.db import Connection
from paykit.dlq import replay
from paykit.kafka_clients import create_consumer, create_producer
from paykit.testing import running, wait_until


def lag_gauge(group: str, topic: str, partition: int) -> float | None:
    value: float | None = REGISTRY.get_sample_value(
        "paykit_consumer_lag", {"group": group, "topic": topic, "partition": str(partition)}
    )
    return value


def record_effect(conn: Connection, envelope: Envelope) -> None:
    conn.execute(
        "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, 'ok')",
        (envelope.id, envelope.subject),
    )


class BrokerThatTimesOut(KafkaConsumer):  # type: ignore[misc]
    def end_offsets(self, partitions: Any) -> Any:
        raise KafkaTimeoutError("end offsets did not arrive in time")


@pytest.mark.integration
def test_lag_that_cannot_be_collected_never_stops_the_work(
    cluster: ClusterEnv,
    kit_pool: ConnectionPool,
    topic: Topic,
    make_event,
    publish,
    effects,
    unique,
) -> None:
    group = topic.consumers[0].name
    servers = cluster.bootstrap_servers
    consumer = Consumer(
        ConsumerSettings(topic, group, lag_interval=0.05),
        record_effect,
        kit_pool,
        create_consumer(servers, group_id=group, client_id=group),
        producer := create_producer(servers, client_id=group),
        lag_client=lambda: BrokerThatTimesOut(bootstrap_servers=servers, group_id=group),
    )
    try:
        with running(consumer):
            for n in range(5):
                publish(topic.name, make_event(f"PAY_{unique}{n}"))
            assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 5)
    finally:
        producer.close()


@pytest.mark.integration
def test_the_lag_of_a_partition_no_longer_owned_is_removed(cluster: ClusterEnv, topic: Topic):
    group = topic.consumers[0].name
    reporter = LagReporter(
        group, lambda: create_consumer(cluster.bootstrap_servers, group_id=group, client_id="lag")
    )
    both = frozenset(TopicPartition(topic.name, p) for p in (0, 1))
    reporter.own(both)
    reporter.collect()
    assert lag_gauge(group, topic.name, 0) == 0 and lag_gauge(group, topic.name, 1) == 0
    reporter.own(frozenset({TopicPartition(topic.name, 0)}))
    reporter.collect()
    assert lag_gauge(group, topic.name, 0) == 0 and lag_gauge(group, topic.name, 1) is None
    reporter.stop()


@pytest.mark.integration
def test_the_inbox_forgets_only_what_is_older_than_its_retention(
    kit_pool: ConnectionPool, unique: str
) -> None:
    consumer, other = f"group-{unique}", f"other-{unique}"
    with kit_pool.connection() as conn:
        for group, event, age in [
            (consumer, "old", "31 days"),
            (consumer, "new", "1 day"),
            (other, "old", "31 days"),
        ]:
            conn.execute(
                "INSERT INTO inbox (consumer, event_id, processed_at)"
                " VALUES (%s, %s, now() - %s::interval)",
                (group, event, age),
            )
    with kit_pool.connection() as conn:
        assert prune(conn, consumer) == 1
        rows = conn.execute(
            "SELECT consumer, event_id FROM inbox WHERE consumer IN (%s, %s) ORDER BY 1, 2",
            (consumer, other),
        ).fetchall()
    assert rows == [(consumer, "new"), (other, "old")]


@pytest.mark.integration
def test_a_running_consumer_prunes_its_inbox_and_a_replayed_duplicate_is_still_dropped(
    cluster: ClusterEnv,
    kit_pool: ConnectionPool,
    topic: Topic,
    make_consumer,
    make_event,
    publish,
    effects,
    unique: str,
) -> None:
    group = topic.consumers[0].name
    with kit_pool.connection() as conn:
        conn.execute(
            "INSERT INTO inbox (consumer, event_id, processed_at) VALUES (%s, 'ancient', %s)",
            (group, "2000-01-01T00:00:00Z"),
        )
    event = make_event(f"PAY_{unique}")
    publish(topic.name, event)
    consumer = make_consumer(topic, prune_interval=0.0)
    with running(consumer):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 1)

        def pruned() -> bool:
            with kit_pool.connection() as conn:
                query = "SELECT count(*) FROM inbox WHERE consumer = %s AND event_id = 'ancient'"
                row = conn.execute(query, (group,)).fetchone()
            return row is not None and row[0] == 0

        assert wait_until(pruned)
        # a copy of the applied event sits in the DLQ (a retried duplicate that ran out)
        value, headers = encode(event)
        producer = create_producer(cluster.bootstrap_servers, client_id="upkeep")
        dlq_headers = [*headers, (H_ORIGINAL_TOPIC, topic.name.encode())]
        producer.send(topic.dlq_topic(group), key=b"k", value=value, headers=dlq_headers)
        producer.flush()
        producer.close()
        assert len(replay(cluster.bootstrap_servers, topic.dlq_topic(group))) == 1
        duplicates = {"group": group, "topic": topic.name}
        assert wait_until(
            lambda: REGISTRY.get_sample_value("paykit_consumer_duplicates_total", duplicates) == 1
        )
    assert len(effects(f"PAY_{unique}")) == 1


def test_the_inbox_outlives_every_copy_of_an_event_kafka_still_holds() -> None:
    assert INBOX_RETENTION > DLQ_RETENTION >= TOPIC_RETENTION


def test_more_retry_delays_than_the_catalogue_has_tiers_is_refused_with_one_clear_line() -> None:
    group = PAYMENT_EVENTS.consumers[0].name
    with pytest.raises(ConsumerConfigError, match="4 retry delays given but the topic catalogue"):
        ConsumerSettings(PAYMENT_EVENTS, group, retry_delays=(1.0, 2.0, 3.0, 4.0))
    with pytest.raises(ConsumerConfigError, match="positive seconds"):
        ConsumerSettings(PAYMENT_EVENTS, group, retry_delays=(1.0, -2.0))
    with pytest.raises(ConsumerConfigError, match="has no consumer group 'nobody'"):
        ConsumerSettings(PAYMENT_EVENTS, "nobody")
    assert ConsumerSettings(PAYMENT_EVENTS, group, retry_delays=(1.0,)).delays == (1.0,)
    assert ConsumerSettings(
        PAYMENT_EVENTS, group, retry_delays=(1.0, 2.0, 3.0), inbox_retention=timedelta(days=40)
    )
