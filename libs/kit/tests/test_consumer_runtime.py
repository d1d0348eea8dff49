"""The consumer runtime against the real Kafka and PostgreSQL of the test cluster."""

from __future__ import annotations

from collections import Counter

import pytest
from prometheus_client import REGISTRY

from localcluster.testing import ClusterEnv
from localcluster.topics import ensure_topics
from payevents import Envelope
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer import RetryableError
from paykit.consumer.routing import (
    H_ATTEMPTS,
    H_DLQ_REASON,
    H_ERROR_MESSAGE,
    H_ERROR_TYPE,
    H_FIRST_FAILURE,
    H_ORIGINAL_OFFSET,
    H_ORIGINAL_PARTITION,
    H_ORIGINAL_TOPIC,
    header,
)
from paykit.db import Connection
from paykit.dlq import list_dead_letters, replay
from paykit.health import check
from paykit.testing import read_topic, running, wait_until

pytestmark = pytest.mark.integration


def test_a_failing_event_in_a_batch_does_not_take_its_neighbours_down(
    topic: Topic, make_consumer, make_event, publish, effects, unique: str
) -> None:
    poisoned = make_event(f"PAY_{unique}x")

    def handler(conn: Connection, envelope: Envelope) -> None:
        conn.execute(
            "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, 'ok')",
            (envelope.id, envelope.subject),
        )
        if envelope.id == poisoned.id:
            raise RetryableError("this one is broken")

    events = [make_event(f"PAY_{unique}{n}") for n in range(4)]
    for event in [*events[:2], poisoned, *events[2:]]:
        publish(topic.name, event)
    with running(make_consumer(topic, handler, retry_delays=(60.0,))):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 4)
    # the neighbours applied once each; the poisoned event's insert was rolled back
    assert Counter(row[0] for row in effects(f"PAY_{unique}")) == {e.id: 1 for e in events}


def test_each_event_is_applied_once_and_redelivery_changes_nothing(
    topic: Topic, make_consumer, make_event, publish, effects, unique: str
) -> None:
    events = [make_event(f"PAY_{unique}{n}") for n in range(5)]
    for event in events:
        publish(topic.name, event)
    publish(topic.name, events[0])  # a duplicate delivery of the first event
    with running(make_consumer(topic)):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) >= 5)
    applied = Counter(row[0] for row in effects(f"PAY_{unique}"))
    assert applied == Counter({event.id: 1 for event in events})


def test_a_handler_that_fails_twice_then_succeeds_goes_through_the_retry_tiers(
    cluster: ClusterEnv, topic: Topic, make_consumer, make_event, publish, effects, unique: str
) -> None:
    calls: Counter[str] = Counter()

    def flaky(conn: Connection, envelope: Envelope) -> None:
        calls[envelope.id] += 1
        if calls[envelope.id] <= 2:
            raise RetryableError("provider timed out")
        conn.execute(
            "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, 'ok')",
            (envelope.id, envelope.subject),
        )

    event = make_event(f"PAY_{unique}")
    publish(topic.name, event)
    # the handler counts calls outside the database, so it runs one transaction per event
    with running(make_consumer(topic, flaky, transaction_per_batch=False)):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 1)
    group = topic.consumers[0].name
    assert calls[event.id] == 3
    servers = cluster.bootstrap_servers
    assert len(read_topic(servers, topic.retry_topic(group, 1))) == 1
    assert len(read_topic(servers, topic.retry_topic(group, 2))) == 1
    assert read_topic(servers, topic.retry_topic(group, 3)) == []
    assert read_topic(servers, topic.dlq_topic(group)) == []


def test_a_handler_that_always_fails_ends_in_the_dlq_with_every_header(
    cluster: ClusterEnv, topic: Topic, make_consumer, make_event, publish, unique: str
) -> None:
    def broken(conn: Connection, envelope: Envelope) -> None:
        raise RetryableError(f"still down for {envelope.subject}")

    group = topic.consumers[0].name
    publish(topic.name, make_event(f"PAY_{unique}"))
    with running(make_consumer(topic, broken)):
        assert wait_until(
            lambda: len(list_dead_letters(cluster.bootstrap_servers, topic.dlq_topic(group))) == 1
        )
    [letter] = list_dead_letters(cluster.bootstrap_servers, topic.dlq_topic(group))
    original = read_topic(cluster.bootstrap_servers, topic.name)[0]
    assert header(letter.headers, H_DLQ_REASON) == "retries_exhausted"
    assert header(letter.headers, H_ATTEMPTS) == "4"
    assert header(letter.headers, H_ORIGINAL_TOPIC) == topic.name
    assert header(letter.headers, H_ORIGINAL_PARTITION) == str(original.partition)
    assert header(letter.headers, H_ORIGINAL_OFFSET) == str(original.offset)
    assert header(letter.headers, H_ERROR_TYPE) == "RetryableError"
    assert header(letter.headers, H_ERROR_MESSAGE) == f"still down for PAY_{unique}"
    assert header(letter.headers, H_FIRST_FAILURE)
    assert letter.value == original.value


def test_bad_bytes_go_straight_to_the_dlq_and_replay_reprocesses_a_fixed_failure(
    cluster: ClusterEnv, topic: Topic, make_consumer, make_event, publish, effects, unique: str
) -> None:
    group = topic.consumers[0].name
    dlq = topic.dlq_topic(group)
    publish(topic.name, raw=b"\xff not json", key=f"PAY_{unique}bad")
    fixed = {"yet": False}

    def until_fixed(conn: Connection, envelope: Envelope) -> None:
        if not fixed["yet"]:
            raise RetryableError("bug in this deploy")
        conn.execute(
            "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, 'fixed')",
            (envelope.id, envelope.subject),
        )

    event = make_event(f"PAY_{unique}good")
    publish(topic.name, event)
    consumer = make_consumer(topic, until_fixed)
    with running(consumer):
        assert wait_until(lambda: len(list_dead_letters(cluster.bootstrap_servers, dlq)) == 2)
        letters = {
            header(x.headers, H_DLQ_REASON): x
            for x in list_dead_letters(cluster.bootstrap_servers, dlq)
        }
        assert header(letters["invalid"].headers, H_ATTEMPTS) == "1"
        assert header(letters["invalid"].headers, H_ERROR_TYPE) == "InvalidEvent"
        assert effects(f"PAY_{unique}") == []

        fixed["yet"] = True
        replayed = replay(cluster.bootstrap_servers, dlq)
        assert len(replayed) == 2
        assert wait_until(lambda: len(effects(f"PAY_{unique}good")) == 1)
        # the bad bytes failed again and are back in the DLQ, the fixed event is not
        assert wait_until(lambda: len(list_dead_letters(cluster.bootstrap_servers, dlq)) == 3)
        # a second replay sends only that newcomer, never the two replayed before
        again = replay(cluster.bootstrap_servers, dlq)
        assert [(x.value, header(x.headers, H_DLQ_REASON)) for x in again] == [
            (b"\xff not json", "invalid")
        ]
        assert {(x.partition, x.offset) for x in again}.isdisjoint(
            {(x.partition, x.offset) for x in replayed}
        )
    assert effects(f"PAY_{unique}") == [(event.id, f"PAY_{unique}good", "fixed")]


def test_a_pending_retry_does_not_block_the_main_partition(
    topic: Topic, make_consumer, make_event, publish, effects, unique: str
) -> None:
    failing = make_event(f"PAY_{unique}a", "fails")
    calls: Counter[str] = Counter()

    def handler(conn: Connection, envelope: Envelope) -> None:
        calls[envelope.id] += 1
        if envelope.id == failing.id and calls[envelope.id] == 1:
            raise RetryableError("try again later")
        conn.execute(
            "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, 'ok')",
            (envelope.id, envelope.subject),
        )

    consumer = make_consumer(topic, handler, retry_delays=(6.0,), transaction_per_batch=False)
    followers = [make_event(f"PAY_{unique}a") for _ in range(5)]  # same key, same partition
    with running(consumer):
        assert wait_until(lambda: bool(consumer.kafka.assignment()), timeout=30)
        publish(topic.name, failing)
        for event in followers:
            publish(topic.name, event)
        assert wait_until(lambda: len(effects(f"PAY_{unique}a")) == 5, timeout=5)
        assert calls[failing.id] == 1  # still waiting in retry tier 1
        assert wait_until(lambda: len(effects(f"PAY_{unique}a")) == 6)
    assert calls[failing.id] == 2


def test_the_poll_loop_keeps_its_health_file_fresh_and_counts_in_metrics(
    topic: Topic, make_consumer, make_event, publish, effects, unique: str, tmp_path
) -> None:
    liveness = tmp_path / "health.json"
    for n in range(3):
        publish(topic.name, make_event(f"PAY_{unique}{n}"))
    group = topic.consumers[0].name
    before = REGISTRY.get_sample_value(
        "paykit_consumer_processed_total", {"group": group, "topic": topic.name}
    )
    with running(make_consumer(topic, health_file=liveness, lag_interval=0.2)):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 3)
        first_touch = liveness.stat().st_mtime_ns
        assert wait_until(lambda: liveness.stat().st_mtime_ns > first_touch, timeout=5)
        assert check(liveness, max_age=5, live_only=False) == (True, f"{group}: ready")
        assert wait_until(lambda: lag_of(group, topic) == [0.0, 0.0, 0.0], timeout=10)
    processed = REGISTRY.get_sample_value(
        "paykit_consumer_processed_total", {"group": group, "topic": topic.name}
    )
    assert before is None and processed == 3


def test_a_consumer_started_before_its_topic_exists_waits_for_it_then_consumes(
    cluster: ClusterEnv, make_consumer, make_event, publish, effects, unique: str, tmp_path
) -> None:
    """Joined blind, the member would assign itself nothing and keep nothing forever."""
    later = Topic(
        f"kit-later-{unique}", 2, "payment id", (ConsumerGroup(f"later-{unique}", (0.3,)),)
    )
    liveness = tmp_path / "health.json"
    group = later.consumers[0].name
    with running(make_consumer(later, health_file=liveness)):
        assert wait_until(liveness.exists, timeout=10)
        waiting = f"not ready: waiting for topics: {later.name}, {later.retry_topic(group, 1)}"
        assert wait_until(
            lambda: waiting in check(liveness, max_age=5, live_only=False)[1], timeout=10
        )
        ensure_topics(cluster.bootstrap_servers, (later,))
        publish(later.name, make_event(f"PAY_{unique}"))
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 1, timeout=30)
        assert check(liveness, max_age=5, live_only=False) == (True, f"{group}: ready")


def lag_of(group: str, topic: Topic) -> list[float | None]:
    return [
        REGISTRY.get_sample_value(
            "paykit_consumer_lag", {"group": group, "topic": topic.name, "partition": str(p)}
        )
        for p in range(topic.partitions)
    ]


def test_the_dlq_command_lists_shows_and_replays(
    cluster: ClusterEnv, topic: Topic, make_consumer, publish, unique: str, capsys
) -> None:
    from paykit.dlq import main

    group = topic.consumers[0].name
    dlq = topic.dlq_topic(group)
    publish(topic.name, raw=b"{not json", key=f"PAY_{unique}")
    with running(make_consumer(topic)):
        assert wait_until(lambda: len(list_dead_letters(cluster.bootstrap_servers, dlq)) == 1)
    servers = ["--bootstrap-servers", cluster.bootstrap_servers]
    assert main([*servers, "list", dlq]) == 0
    listing = capsys.readouterr().out
    assert "invalid  attempts=1  InvalidEvent" in listing and f"1 message(s) in {dlq}" in listing
    [letter] = list_dead_letters(cluster.bootstrap_servers, dlq)
    assert main([*servers, "show", dlq, "--at", f"{letter.partition}:{letter.offset}"]) == 0
    shown = capsys.readouterr().out
    assert '"value": "{not json"' in shown and f'"topic": "{topic.name}"' in shown
    assert main([*servers, "replay", dlq, "--at", "x"]) == 2
    assert main([*servers, "replay", dlq]) == 0
    assert "replayed 1 message(s)" in capsys.readouterr().out
    assert len(read_topic(cluster.bootstrap_servers, topic.name)) == 2
