"""Handlers that call other systems run with no runtime transaction open; messages that may
have overtaken their data never park a consumer (real Kafka and PostgreSQL)."""

from __future__ import annotations

from collections import Counter

import psycopg
import pytest
from psycopg import pq

from payevents import Envelope
from payevents.topics import Topic
from paykit.consumer import ConsumerConfigError, ConsumerSettings, DlqLimit, NotYetApplicable
from paykit.db import Connection
from paykit.testing import running, wait_until

pytestmark = pytest.mark.integration


def test_no_transaction_is_open_while_a_handler_that_owns_its_transactions_runs(
    kit_db: str, topic: Topic, make_consumer, make_event, publish, effects, unique: str
) -> None:
    seen: list[tuple[str, str | None]] = []

    def calls_a_provider(conn: Connection, envelope: Envelope) -> None:
        # what another session sees of the runtime's connection while "the PSP" is called
        with psycopg.connect(kit_db, autocommit=True) as observer:
            row = observer.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", (conn.info.backend_pid,)
            ).fetchone()
        seen.append((conn.info.transaction_status.name, row[0] if row else None))
        with conn.transaction():
            conn.execute(
                "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, 'own')",
                (envelope.id, envelope.subject),
            )

    events = [make_event(f"PAY_{unique}{n}") for n in range(3)]
    for event in [*events, events[0]]:  # the first one delivered twice
        publish(topic.name, event)
    consumer = make_consumer(
        topic, calls_a_provider, transaction_per_batch=False, handler_transactions=True
    )
    with running(consumer):
        assert wait_until(lambda: len(effects(f"PAY_{unique}")) == 3)
    assert set(seen) == {(pq.TransactionStatus.IDLE.name, "idle")}
    assert Counter(row[0] for row in effects(f"PAY_{unique}")) == {e.id: 1 for e in events}


def test_handler_transactions_cannot_be_combined_with_one_transaction_per_batch(
    topic: Topic,
) -> None:
    with pytest.raises(ConsumerConfigError, match="needs transaction_per_batch=False"):
        ConsumerSettings(topic, topic.consumers[0].name, handler_transactions=True)


def test_a_burst_of_messages_ahead_of_their_data_is_dead_lettered_without_parking(
    topic: Topic, make_consumer, make_event, publish, letters, unique: str
) -> None:
    def unknown_payment(conn: Connection, envelope: Envelope) -> None:
        raise NotYetApplicable(f"no payment {envelope.subject} yet")

    for n in range(15):
        publish(topic.name, make_event(f"PAY_{unique}{n}"))
    limit = DlqLimit(max_ratio=0.8, window=10, min_messages=10)
    consumer = make_consumer(topic, unknown_payment, retry_delays=(0.2,), dlq_limit=limit)
    with running(consumer):
        assert wait_until(lambda: len(letters()) == 15)
        assert consumer.held is None
