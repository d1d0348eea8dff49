"""What production throws at a consumer: swallowed database errors, deadlocks and timeouts, a
lost connection, records that cannot be read. Real Kafka and PostgreSQL throughout."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaConnectionError

from localcluster.testing import ClusterEnv
from payevents import Envelope, encode
from payevents.topics import Topic
from paykit.consumer import RetryableError
from paykit.consumer.routing import (
    H_ATTEMPTS,
    H_DLQ_REASON,
    H_ERROR_MESSAGE,
    H_ERROR_TYPE,
    H_NOT_BEFORE,
    header,
)
from paykit.db import Connection
from paykit.health import read as read_health
from paykit.kafka_clients import create_producer
from paykit.testing import running, wait_until

pytestmark = pytest.mark.integration


def insert_effect(conn: Connection, envelope: Envelope, label: str = "ok") -> None:
    conn.execute(
        "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, %s)",
        (envelope.id, envelope.subject, label),
    )


@pytest.fixture
def producer(cluster: ClusterEnv) -> Iterator[KafkaProducer]:
    made = create_producer(cluster.bootstrap_servers, client_id="fault-tests")
    yield made
    made.close()


def swallow_a_database_error(conn: Connection, envelope: Envelope) -> None:
    """The bug the runtime must catch: an error caught without a savepoint of its own."""
    insert_effect(conn, envelope)
    with contextlib.suppress(psycopg.errors.DivisionByZero):
        conn.execute("SELECT 1 / 0")


@pytest.mark.parametrize(
    "per_batch",
    [pytest.param(False, id="transaction-per-event"), pytest.param(True, id="batch-fast-path")],
)
def test_a_handler_that_leaves_its_transaction_aborted_has_failed_not_applied(
    per_batch: bool, topic: Topic, make_consumer, make_event, publish, effects, letters, unique: str
) -> None:
    event = make_event(f"PAY_{unique}")
    publish(topic.name, event)
    consumer = make_consumer(
        topic, swallow_a_database_error, transaction_per_batch=per_batch, retry_delays=(0.3,)
    )
    with running(consumer):
        assert wait_until(lambda: len(letters()) == 1)
    [letter] = letters()
    assert header(letter.headers, H_ERROR_TYPE) == "TransactionAborted"
    assert header(letter.headers, H_DLQ_REASON) == "retries_exhausted"
    assert effects(f"PAY_{unique}") == []


def test_the_batch_fallback_isolates_a_handler_that_left_its_transaction_aborted(
    topic: Topic, make_consumer, make_event, publish, effects, letters, unique: str
) -> None:
    """One neighbour raises, so the batch is redone in savepoints; the swallower is found too."""
    swallower, raiser = make_event(f"PAY_{unique}s"), make_event(f"PAY_{unique}r")
    good = [make_event(f"PAY_{unique}g{n}") for n in range(3)]

    def handler(conn: Connection, envelope: Envelope) -> None:
        if envelope.id == swallower.id:
            swallow_a_database_error(conn, envelope)
        elif envelope.id == raiser.id:
            raise RetryableError("the neighbour fails loudly")
        else:
            insert_effect(conn, envelope)

    consumer = make_consumer(topic, handler, retry_delays=(0.3,))
    with running(consumer):
        assert wait_until(lambda: bool(consumer.kafka.assignment()))
        for event in [good[0], swallower, good[1], raiser, good[2]]:
            publish(topic.name, event)
        assert wait_until(lambda: len(letters()) == 2)
    assert {header(x.headers, H_ERROR_TYPE) for x in letters()} == {
        "TransactionAborted",
        "RetryableError",
    }
    assert Counter(row[0] for row in effects(f"PAY_{unique}")) == {e.id: 1 for e in good}


@pytest.fixture
def lock_holder(kit_db: str) -> Iterator[Callable[[int], threading.Event]]:
    """Holds an advisory lock on its own connection until the returned event is set."""
    releases: list[threading.Event] = []

    def hold(key: int) -> threading.Event:
        release, held = threading.Event(), threading.Event()

        def target() -> None:
            with psycopg.connect(kit_db, autocommit=True) as conn:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                held.set()
                release.wait(60)

        threading.Thread(target=target, daemon=True).start()
        assert held.wait(10)
        releases.append(release)
        return release

    yield hold
    for release in releases:
        release.set()


def test_a_lock_timeout_is_retried_in_place_and_the_consumer_lives_on(
    topic: Topic, make_consumer, make_event, publish, effects, letters, lock_holder, unique: str
) -> None:
    key = int(unique[:8], 16)
    release = lock_holder(key)
    calls: Counter[str] = Counter()

    def handler(conn: Connection, envelope: Envelope) -> None:
        calls[envelope.id] += 1
        if calls[envelope.id] == 2:
            release.set()  # the lock is free for the next attempt
        conn.execute("SET LOCAL lock_timeout = '100ms'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        insert_effect(conn, envelope)

    event = make_event(f"PAY_{unique}")
    publish(topic.name, event)
    consumer = make_consumer(topic, handler, transaction_per_batch=False, retry_delays=(60.0,))
    with running(consumer):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 1)
    assert calls[event.id] >= 2  # failed with LockNotAvailable first, in place, not via a tier
    assert letters() == []
    assert consumer.scheduler.paused == {}


def test_a_statement_timeout_on_every_attempt_ends_in_the_dlq_instead_of_a_crash_loop(
    topic: Topic, make_consumer, make_event, publish, effects, letters, unique: str
) -> None:
    def too_slow(conn: Connection, envelope: Envelope) -> None:
        conn.execute("SET LOCAL statement_timeout = '20ms'")
        conn.execute("SELECT pg_sleep(1)")

    publish(topic.name, make_event(f"PAY_{unique}"))
    with running(make_consumer(topic, too_slow, retry_delays=(0.2, 0.2))):
        assert wait_until(lambda: len(letters()) == 1)
    [letter] = letters()
    assert header(letter.headers, H_ERROR_TYPE) == "QueryCanceled"
    assert header(letter.headers, H_DLQ_REASON) == "retries_exhausted"
    assert header(letter.headers, H_ATTEMPTS) == "3"


def test_a_deterministic_data_error_is_dead_lettered_at_once(
    topic: Topic, make_consumer, make_event, publish, letters, unique: str
) -> None:
    def divides_by_zero(conn: Connection, envelope: Envelope) -> None:
        conn.execute("SELECT 1 / 0")

    publish(topic.name, make_event(f"PAY_{unique}"))
    with running(make_consumer(topic, divides_by_zero, retry_delays=(60.0,))):
        assert wait_until(lambda: len(letters()) == 1)
    [letter] = letters()
    assert header(letter.headers, H_ERROR_TYPE) == "DivisionByZero"
    assert header(letter.headers, H_DLQ_REASON) == "invalid"
    assert header(letter.headers, H_ATTEMPTS) == "1"


@pytest.mark.parametrize("per_batch", [False, True], ids=["per-event", "per-batch"])
def test_a_lost_database_connection_holds_reconnects_and_redoes_the_batch_once(
    per_batch: bool, topic: Topic, make_consumer, make_event, publish, effects, letters, unique: str
) -> None:
    events = [make_event(f"PAY_{unique}{n}") for n in range(6)]
    victim = events[3]
    terminated = threading.Event()

    def handler(conn: Connection, envelope: Envelope) -> None:
        insert_effect(conn, envelope)
        if envelope.id == victim.id and not terminated.is_set():
            terminated.set()
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    consumer = make_consumer(
        topic, handler, transaction_per_batch=per_batch, reconnect_delays=(0.2, 1.0)
    )
    with running(consumer):
        assert wait_until(lambda: bool(consumer.kafka.assignment()))
        for event in events:
            publish(topic.name, event)
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == len(events))
        assert consumer.held is None
    assert terminated.is_set()
    assert Counter(row[0] for row in effects(f"PAY_{unique}")) == {e.id: 1 for e in events}
    assert letters() == []


def _send(producer: KafkaProducer, topic: str, key: str, value: bytes | None, headers: Any) -> None:
    producer.send(topic, key=key.encode(), value=value, headers=headers).get(timeout=30)


def test_records_that_cannot_be_read_or_routed_are_dead_lettered_with_the_reason(
    topic: Topic, make_consumer, make_event, publish, effects, letters, producer, unique: str
) -> None:
    group = topic.consumers[0].name
    valid = make_event(f"PAY_{unique}v")
    value, headers = encode(make_event(f"PAY_{unique}h"))
    with running(make_consumer(topic)):
        _send(producer, topic.name, f"PAY_{unique}t", None, [])  # a tombstone
        _send(producer, topic.name, f"PAY_{unique}h", value, [*headers, (H_ATTEMPTS, b"two")])
        _send(
            producer,
            topic.retry_topic(group, 1),
            f"PAY_{unique}n",
            value,
            [*headers, (H_ATTEMPTS, b"1"), (H_NOT_BEFORE, b"soon")],
        )
        publish(topic.name, valid)
        assert wait_until(lambda: len(letters()) == 3)
        assert wait_until(lambda: len(effects(f"PAY_{unique}v")) == 1)
    messages = sorted(header(x.headers, H_ERROR_MESSAGE) or "" for x in letters())
    assert [header(x.headers, H_DLQ_REASON) for x in letters()] == ["invalid"] * 3
    assert {header(x.headers, H_ERROR_TYPE) for x in letters()} == {"MalformedRecord"}
    assert "tombstone" in messages[0]
    assert "x-attempts='two'" in messages[1]
    assert "x-retry-not-before-ms='soon'" in messages[2]


def test_a_broker_lost_under_a_poll_makes_the_consumer_wait_not_exit(
    topic: Topic, make_consumer, make_event, publish, effects, unique: str, tmp_path
) -> None:
    """kafka-python raises ``KafkaConnectionError`` from ``poll`` while the broker is gone (seen
    in the chaos runs, where it ended ledger-poster and payment-status-applier): the consumer
    says it waits for Kafka, polls again, and applies what comes once the broker answers."""
    consumer = make_consumer(topic, health_file=tmp_path / "health.json")
    real_poll = consumer.kafka.poll
    failures = iter([KafkaConnectionError("Connection refused")] * 3)
    seen_waiting: list[str] = []

    def poll_through_an_outage(**kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_poll(**kwargs)

    def reported() -> dict[str, Any]:
        return read_health(tmp_path / "health.json")

    consumer.health.report = _recording(consumer.health.report, seen_waiting)  # type: ignore[method-assign]
    consumer.kafka.poll = poll_through_an_outage  # type: ignore[method-assign]
    event = make_event(f"PAY_{unique}")
    with running(consumer) as thread:
        publish(topic.name, event)
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 1, timeout=30)
        assert thread.is_alive()
        assert wait_until(lambda: reported()["ready"], timeout=10)
    assert seen_waiting and seen_waiting[0].startswith("waiting for Kafka: ")


def _recording(report: Callable[..., None], reasons: list[str]) -> Callable[..., None]:
    def record(*, ready: bool, reason: str = "") -> None:
        if not ready:
            reasons.append(reason)
        report(ready=ready, reason=reason)

    return record
