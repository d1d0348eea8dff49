"""Handlers that own their transactions run several at once, one key at a time: overlap, order,
failures, a stop mid-batch and the batch deadline (real Kafka and PostgreSQL).

Every topic here has one partition and every event is published before the consumer starts,
so the first poll returns them all in one batch.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from kafka import TopicPartition
from psycopg import pq

from localcluster.testing import ClusterEnv
from payevents import Envelope
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer import (
    Consumer,
    ConsumerConfigError,
    ConsumerSettings,
    InvalidMessage,
    RetryableError,
)
from paykit.consumer.routing import H_ATTEMPTS, H_DLQ_REASON, header
from paykit.db import Connection, create_pool
from paykit.dlq import list_dead_letters
from paykit.kafka_clients import create_consumer, create_producer
from paykit.testing import read_topic, running, wait_until

pytestmark = pytest.mark.integration

CONCURRENT: dict[str, Any] = {"transaction_per_batch": False, "handler_transactions": True}


@pytest.fixture
def lane_topic(cluster: ClusterEnv, unique: str) -> Topic:
    return cluster.private_topic(f"kit-lanes-{unique}", partitions=1)


def record_labelled(conn: Connection, envelope: Envelope) -> None:
    """One effect row per application, committed at once (the connection is in autocommit)."""
    conn.execute(
        "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, %s)",
        (envelope.id, envelope.subject, envelope.data["description"]),
    )


def committed(cluster: ClusterEnv, topic: Topic) -> int:
    """The group's committed offset on the topic's one partition (0 when none)."""
    probe = create_consumer(
        cluster.bootstrap_servers, group_id=topic.consumers[0].name, client_id="probe"
    )
    try:
        return probe.committed(TopicPartition(topic.name, 0)) or 0
    finally:
        probe.close(autocommit=False)


@pytest.fixture
def labels(
    effects: Callable[[str], list[tuple[str, str, str]]], unique: str
) -> Callable[[], list[str]]:
    """The labels of this test's applied events, in the order they were applied."""
    return lambda: [row[2] for row in effects(f"PAY_{unique}")]


@pytest.fixture
def publish_labelled(
    lane_topic: Topic,
    make_event: Callable[..., Envelope],
    publish: Callable[..., None],
    unique: str,
) -> Callable[..., list[Envelope]]:
    """Publishes one event per label, in order; a label's letter is its payment (its key)."""

    def send(*names: str) -> list[Envelope]:
        events = [make_event(f"PAY_{unique}{name[0]}", name) for name in names]
        for event in events:
            publish(lane_topic.name, event)
        return events

    return send


def test_handlers_of_different_keys_run_at_the_same_time_on_a_pool_grown_to_fit(
    cluster: ClusterEnv, kit_db: str, lane_topic: Topic, publish_labelled, labels
) -> None:
    # each handler waits until three are inside at once: one at a time, none would ever return
    meeting = threading.Barrier(3, timeout=5)

    def waits_for_two_others(conn: Connection, envelope: Envelope) -> None:
        meeting.wait()
        record_labelled(conn, envelope)

    publish_labelled("A", "B", "C")
    group = lane_topic.consumers[0].name
    one_connection = create_pool(kit_db, max_size=1, name="kit-lanes-small")
    producer = create_producer(cluster.bootstrap_servers, client_id=group)
    consumer = Consumer(
        ConsumerSettings(lane_topic, group, handler_concurrency=3, **CONCURRENT),
        waits_for_two_others,
        one_connection,
        create_consumer(cluster.bootstrap_servers, group_id=group, client_id=group),
        producer,
    )
    try:
        with running(consumer):
            assert wait_until(lambda: sorted(labels()) == ["A", "B", "C"], timeout=20)
        assert one_connection.max_size == 3  # a connection per lane
    finally:
        producer.close()
        one_connection.close()
    assert not meeting.broken


def test_no_transaction_is_open_on_any_lane_while_its_handler_calls_out(
    kit_db: str, lane_topic: Topic, make_consumer, publish_labelled, labels
) -> None:
    meeting = threading.Barrier(2, timeout=5)
    seen: list[tuple[str, str | None]] = []

    def calls_a_provider(conn: Connection, envelope: Envelope) -> None:
        meeting.wait()  # both handlers are "calling the PSP" now
        with psycopg.connect(kit_db, autocommit=True) as observer:
            row = observer.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", (conn.info.backend_pid,)
            ).fetchone()
        seen.append((conn.info.transaction_status.name, row[0] if row else None))
        record_labelled(conn, envelope)

    publish_labelled("A", "B")
    consumer = make_consumer(lane_topic, calls_a_provider, handler_concurrency=2, **CONCURRENT)
    with running(consumer):
        assert wait_until(lambda: sorted(labels()) == ["A", "B"], timeout=20)
    assert seen == [(pq.TransactionStatus.IDLE.name, "idle")] * 2


def test_records_of_one_key_run_in_order_one_at_a_time_beside_other_keys(
    lane_topic: Topic, make_consumer, publish_labelled, labels
) -> None:
    order = ["A1", "B1", "A2", "B2", "A3", "B3"]
    inside = {label: threading.Event() for label in order}
    running_now: Counter[str] = Counter()
    most_at_once: Counter[str] = Counter()
    missed: list[str] = []
    lock = threading.Lock()

    def meets_its_partner(conn: Connection, envelope: Envelope) -> None:
        """A_n waits for B_n to be inside, B_n for A_n: only lanes side by side meet."""
        label = envelope.data["description"]
        with lock:
            running_now[label[0]] += 1
            most_at_once[label[0]] = max(most_at_once[label[0]], running_now[label[0]])
        inside[label].set()
        met = inside[("B" if label[0] == "A" else "A") + label[1]].wait(5)
        if label[1] == "1":  # its key's next record would be inside by now if it could overtake
            inside[label[0] + "2"].wait(1)
        with lock:
            running_now[label[0]] -= 1
        if not met:
            missed.append(label)
            raise RetryableError(f"{label} ran alone")
        record_labelled(conn, envelope)

    publish_labelled(*order)
    consumer = make_consumer(lane_topic, meets_its_partner, handler_concurrency=4, **CONCURRENT)
    with running(consumer):
        assert wait_until(lambda: len(labels()) == 6, timeout=30)
    applied = labels()
    assert [label for label in applied if label[0] == "A"] == ["A1", "A2", "A3"]
    assert [label for label in applied if label[0] == "B"] == ["B1", "B2", "B3"]
    assert most_at_once == {"A": 1, "B": 1}
    assert missed == []


def test_a_failure_goes_to_its_retry_tier_or_the_dlq_as_in_order_and_the_rest_commits(
    cluster: ClusterEnv, lane_topic: Topic, make_consumer, publish_labelled, labels
) -> None:
    meeting = threading.Barrier(4, timeout=5)  # every first attempt inside at once
    attempts: Counter[str] = Counter()

    def fails_some(conn: Connection, envelope: Envelope) -> None:
        label = envelope.data["description"]
        attempts[label] += 1
        if attempts[label] == 1:
            meeting.wait()
        if label == "R" and attempts[label] == 1:
            raise RetryableError("the provider did not answer")
        if label == "X":
            raise InvalidMessage("not a payment we can charge")
        record_labelled(conn, envelope)

    events = publish_labelled("R", "X", "C", "D")
    consumer = make_consumer(lane_topic, fails_some, handler_concurrency=4, **CONCURRENT)
    group = lane_topic.consumers[0].name
    dlq = lane_topic.dlq_topic(group)
    with running(consumer):
        assert wait_until(lambda: sorted(labels()) == ["C", "D", "R"], timeout=30)
        assert wait_until(lambda: len(list_dead_letters(cluster.bootstrap_servers, dlq)) == 1)
        assert wait_until(lambda: committed(cluster, lane_topic) == 4)
    assert not meeting.broken
    assert attempts == {"R": 2, "X": 1, "C": 1, "D": 1}
    retried = read_topic(cluster.bootstrap_servers, lane_topic.retry_topic(group, 1))
    assert [(r.key, header(r.headers, H_ATTEMPTS)) for r in retried] == [
        (events[0].subject.encode(), "1")
    ]
    (letter,) = list_dead_letters(cluster.bootstrap_servers, dlq)
    assert (letter.key, header(letter.headers, H_DLQ_REASON)) == (
        events[1].subject.encode(),
        "invalid",
    )


def test_a_consumer_stopped_mid_batch_leaves_only_what_it_had_not_started(
    cluster: ClusterEnv, lane_topic: Topic, make_consumer, publish_labelled, labels
) -> None:
    gate = threading.Event()
    first_inside = threading.Event()
    calls: Counter[str] = Counter()

    def slow_first(conn: Connection, envelope: Envelope) -> None:
        label = envelope.data["description"]
        calls[label] += 1
        if label == "A1" and not gate.is_set():
            first_inside.set()
            assert gate.wait(20), "the test never let the first handler finish"
        record_labelled(conn, envelope)

    publish_labelled("A1", "A2", "B1")  # offsets 0, 1, 2: A2 waits behind A1, B1 runs beside
    consumer = make_consumer(lane_topic, slow_first, handler_concurrency=2, **CONCURRENT)
    with running(consumer):
        assert first_inside.wait(20)
        assert wait_until(lambda: labels() == ["B1"], timeout=20)
        consumer.stop()
        gate.set()
    assert labels() == ["B1", "A1"]
    assert committed(cluster, lane_topic) == 1  # up to A2, which never started

    second = make_consumer(lane_topic, slow_first, handler_concurrency=2, **CONCURRENT)
    with running(second):
        assert wait_until(lambda: committed(cluster, lane_topic) == 3, timeout=30)
    assert labels() == ["B1", "A1", "A2"]
    assert calls == {"A1": 1, "A2": 1, "B1": 1}  # B1 came again, a duplicate: not run again


def test_no_handler_starts_after_the_batch_deadline_and_the_rest_comes_again(
    cluster: ClusterEnv, lane_topic: Topic, make_consumer, publish_labelled, labels
) -> None:
    def slow_call(conn: Connection, envelope: Envelope) -> None:
        time.sleep(0.6)  # a provider call slower than the batch's deadline
        record_labelled(conn, envelope)

    publish_labelled("A1", "A2", "A3")  # one key: one lane, one handler after another
    settings: dict[str, Any] = {"handler_concurrency": 2, "batch_deadline": 0.3, **CONCURRENT}
    make_consumer(lane_topic, slow_call, **settings).run(max_batches=1)
    assert labels() == ["A1"]
    assert committed(cluster, lane_topic) == 1

    with running(make_consumer(lane_topic, slow_call, **settings)):
        assert wait_until(lambda: committed(cluster, lane_topic) == 3, timeout=30)
    assert labels() == ["A1", "A2", "A3"]


def test_a_database_lost_in_one_lane_holds_the_batch_and_redoes_what_was_left_once(
    lane_topic: Topic, make_consumer, publish_labelled, labels
) -> None:
    terminated = threading.Event()

    def loses_the_database_once(conn: Connection, envelope: Envelope) -> None:
        if envelope.data["description"] == "B1" and not terminated.is_set():
            terminated.set()
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        record_labelled(conn, envelope)

    publish_labelled("A1", "B1", "C1", "A2", "B2", "C2")
    consumer = make_consumer(
        lane_topic,
        loses_the_database_once,
        handler_concurrency=3,
        reconnect_delays=(0.2, 1.0),
        **CONCURRENT,
    )
    with running(consumer):
        assert wait_until(lambda: len(labels()) == 6, timeout=30)
        assert consumer.held is None
    assert terminated.is_set()
    assert Counter(labels()) == dict.fromkeys(["A1", "B1", "C1", "A2", "B2", "C2"], 1)


@pytest.mark.parametrize(
    ("settings", "complaint"),
    [
        ({"handler_concurrency": 0, **CONCURRENT}, "at least 1"),
        ({"handler_concurrency": 2}, "needs handler_transactions"),
        ({"batch_deadline": 5.0, **CONCURRENT}, "needs handler_concurrency above 1"),
        ({"handler_concurrency": 2, "batch_deadline": 0.0, **CONCURRENT}, "positive seconds"),
    ],
)
def test_concurrency_settings_that_cannot_work_are_refused(
    settings: dict[str, Any], complaint: str
) -> None:
    topic = Topic("kit-settings", partitions=1, key="id", consumers=(ConsumerGroup("g"),))
    with pytest.raises(ConsumerConfigError, match=complaint):
        ConsumerSettings(topic, "g", **settings)
