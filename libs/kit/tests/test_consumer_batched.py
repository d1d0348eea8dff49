"""Batched handlers on the per-batch fast path, and ``enqueue_many``: real Kafka and PostgreSQL.

A ``Batched`` handler is handed a batch's new events in one call so it can write them as a
set; when that call refuses, the runtime rolls it back and offers the events one at a time, so
only the culprit fails. The outbox's ``enqueue_many`` is what such a handler writes its news
with: many rows, one statement, in the order given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import pytest
from psycopg_pool import ConnectionPool

from payevents import Envelope, decode, encode
from payevents.topics import Topic
from paykit.consumer import Batched, BatchHandler, Consumer, InvalidMessage
from paykit.consumer.routing import H_DLQ_REASON, H_ERROR_MESSAGE, H_ERROR_TYPE, header
from paykit.db import Connection
from paykit.dlq import DeadLetter
from paykit.outbox import enqueue_many
from paykit.testing import running, wait_until

pytestmark = pytest.mark.integration

Calls = list[list[str]]
MakeConsumer = Callable[..., Consumer]
MakeEvent = Callable[..., Envelope]
Publish = Callable[..., None]
Effects = Callable[[str], list[tuple[str, str, str]]]


def recording_batch_handler(calls: Calls, *, refuse: str | None = None) -> BatchHandler:
    """Writes one effect per event, labelled by the size of the call that wrote it; remembers
    every call's event ids; refuses any call holding the event ``refuse`` after writing."""

    def apply_batch(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        calls.append([envelope.id for envelope in envelopes])
        label = "batch-call" if len(envelopes) > 1 else "single-call"
        for envelope in envelopes:
            conn.execute(
                "INSERT INTO effects (event_id, key, label) VALUES (%s, %s, %s)",
                (envelope.id, envelope.subject, label),
            )
        if refuse is not None and any(envelope.id == refuse for envelope in envelopes):
            raise InvalidMessage(f"event {refuse} names a merchant that does not exist")

    return apply_batch


def inbox_ids(pool: ConnectionPool, group: str) -> set[str]:
    with pool.connection() as conn:
        return {
            row[0]
            for row in conn.execute("SELECT event_id FROM inbox WHERE consumer = %s", (group,))
        }


def test_a_batched_handler_gets_the_new_events_of_a_batch_in_one_call_in_order(
    topic: Topic,
    make_consumer: MakeConsumer,
    make_event: MakeEvent,
    publish: Publish,
    effects: Effects,
    kit_pool: ConnectionPool,
    unique: str,
) -> None:
    key = f"PAY_{unique}"  # one key: one partition, so the batch's order is the stream's
    events = [make_event(key, f"{n}") for n in range(6)]
    seen_before = [events[1], events[4]]
    group = topic.consumers[0].name
    with kit_pool.connection() as conn:
        for event in seen_before:
            conn.execute(
                "INSERT INTO inbox (consumer, event_id) VALUES (%s, %s)", (group, event.id)
            )
    for event in [*events[:3], events[2], *events[3:]]:  # events[2] delivered twice
        publish(topic.name, event)
    calls: Calls = []
    consumer = make_consumer(topic, Batched(recording_batch_handler(calls)))
    with running(consumer):
        assert wait_until(lambda: len(effects(key)) >= 4)
    new = [event.id for event in events if event not in seen_before]
    assert calls == [new]
    assert [(row[0], row[2]) for row in effects(key)] == [(id, "batch-call") for id in new]
    assert inbox_ids(kit_pool, group) == {event.id for event in events}


def test_a_refused_batch_call_is_rolled_back_and_redone_one_event_at_a_time(
    topic: Topic,
    make_consumer: MakeConsumer,
    make_event: MakeEvent,
    publish: Publish,
    effects: Effects,
    letters: Callable[[], list[DeadLetter]],
    kit_pool: ConnectionPool,
    unique: str,
) -> None:
    key = f"PAY_{unique}"
    events = [make_event(key, f"{n}") for n in range(5)]
    bad = events[2]
    good = [event for event in events if event is not bad]
    for event in events:
        publish(topic.name, event)
    calls: Calls = []
    handler = Batched(recording_batch_handler(calls, refuse=bad.id))
    with running(make_consumer(topic, handler, retry_delays=(60.0,))):
        assert wait_until(lambda: len(letters()) == 1)
        assert wait_until(lambda: len(effects(key)) == len(good))
    assert calls == [[event.id for event in events]] + [[event.id] for event in events]
    assert Counter(row[0] for row in effects(key)) == {event.id: 1 for event in good}
    assert {row[2] for row in effects(key)} == {"single-call"}  # the batch call left nothing
    [letter] = letters()
    assert decode(letter.value).id == bad.id
    assert header(letter.headers, H_DLQ_REASON) == "invalid"
    assert header(letter.headers, H_ERROR_TYPE) == "InvalidMessage"
    assert f"event {bad.id} names a merchant" in (header(letter.headers, H_ERROR_MESSAGE) or "")
    assert {event.id for event in good} <= inbox_ids(kit_pool, topic.consumers[0].name)


def test_enqueue_many_writes_its_rows_in_the_order_given_with_their_keys_and_headers(
    kit_pool: ConnectionPool, topic: Topic, make_event: MakeEvent, unique: str
) -> None:
    events = [make_event(f"PAY_{unique}{n}") for n in range(4)]
    other_topic = f"{topic.name}-other"
    given = [
        (events[0], topic.name, "merchant-7"),
        (events[1], other_topic, None),
        (events[2], topic.name, None),
        (events[3], topic.name, "merchant-7"),
    ]
    with kit_pool.connection() as conn, conn.transaction():
        enqueue_many(conn, given)
    with kit_pool.connection() as conn:
        rows = conn.execute(
            "SELECT event_id, topic, key, value, headers FROM outbox"
            " WHERE event_id = ANY(%s) ORDER BY id",
            ([event.id for event in events],),
        ).fetchall()
    assert [(row[0], row[1], bytes(row[2])) for row in rows] == [
        (envelope.id, name, (key or envelope.subject).encode()) for envelope, name, key in given
    ]
    for (_, _, _, value, headers), (envelope, _, _) in zip(rows, given, strict=True):
        assert decode(bytes(value)) == envelope
        assert [(name, raw.encode()) for name, raw in headers] == encode(envelope)[1]


def test_enqueue_many_of_nothing_writes_nothing(kit_pool: ConnectionPool) -> None:
    with kit_pool.connection() as conn, conn.transaction():
        (before,) = conn.execute("SELECT count(*) FROM outbox").fetchone() or (0,)
        enqueue_many(conn, [])
        (after,) = conn.execute("SELECT count(*) FROM outbox").fetchone() or (0,)
    assert after == before
