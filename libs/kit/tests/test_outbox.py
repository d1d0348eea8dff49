"""The outbox and its relay against the real Kafka and PostgreSQL."""

from __future__ import annotations

import threading
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError, OutOfOrderSequenceNumberError
from kafka.future import Future
from kafka.net.compat import KafkaNetClient
from kafka.protocol.producer import ProduceRequest

from localcluster.testing import ClusterEnv
from payevents import Envelope, decode
from payevents.topics import Topic
from paykit.db import Connection
from paykit.kafka_clients import create_transactional_producer
from paykit.outbox import OutboxRelay, enqueue, store
from paykit.outbox.publisher import transactional_producers
from paykit.testing import read_topic, running, wait_until

pytestmark = pytest.mark.integration


def test_an_event_enqueued_in_a_rolled_back_transaction_is_never_published(
    kit_pool, topic: Topic, make_event
) -> None:
    event = make_event("PAY_rolledback")
    with pytest.raises(RuntimeError), kit_pool.connection() as conn, conn.transaction():
        enqueue(conn, event, topic=topic.name)
        raise RuntimeError("the state change failed")
    with kit_pool.connection() as conn:
        assert (
            conn.execute("SELECT 1 FROM outbox WHERE event_id = %s", (event.id,)).fetchone() is None
        )


def test_per_key_order_survives_the_outbox_and_consumption(
    cluster: ClusterEnv,
    kit_db: str,
    kit_pool,
    topic: Topic,
    make_event,
    make_consumer,
    unique: str,
) -> None:
    keys = [f"PAY_{unique}{k}" for k in "abcd"]
    with kit_pool.connection() as conn:
        for n in range(25):  # interleave keys, one transaction per step
            with conn.transaction():
                for key in keys:
                    enqueue(conn, make_event(key, f"{n:03d}"), topic=topic.name)
    producers = transactional_producers(cluster.bootstrap_servers, client_id="order-relay")
    relay = OutboxRelay(kit_db, producers, batch_size=30, idle_wait=0.2)
    seen: dict[str, list[str]] = defaultdict(list)

    def remember(conn: Connection, envelope: Envelope) -> None:
        seen[envelope.subject].append(envelope.data["description"])

    with running(relay), running(make_consumer(topic, remember, batch_size=7)):
        assert wait_until(lambda: sum(map(len, seen.values())) == 100, timeout=60)
    assert {key: seen[key] for key in keys} == {
        key: [f"{n:03d}" for n in range(25)] for key in keys
    }


def test_the_relay_wakes_on_notify_instead_of_waiting_out_its_poll(
    cluster: ClusterEnv, kit_db: str, kit_pool, topic: Topic, make_event
) -> None:
    producers = transactional_producers(cluster.bootstrap_servers, client_id="notify-relay")
    relay = OutboxRelay(kit_db, producers, idle_wait=60.0)  # would sleep a minute between polls
    with running(relay):
        assert relay.leading.wait(timeout=20)
        event = make_event("PAY_notify")
        with kit_pool.connection() as conn, conn.transaction():
            enqueue(conn, event, topic=topic.name)
        assert wait_until(
            lambda: any(
                decode(r.value).id == event.id
                for r in read_topic(cluster.bootstrap_servers, topic.name)
            ),
            timeout=20,
        )


def test_only_one_relay_publishes_at_a_time(
    cluster: ClusterEnv, kit_db: str, kit_pool, topic: Topic, make_event
) -> None:
    with kit_pool.connection() as conn, conn.transaction():
        for n in range(40):
            enqueue(conn, make_event(f"PAY_pair{n}"), topic=topic.name)
    relays = [
        OutboxRelay(
            kit_db,
            transactional_producers(cluster.bootstrap_servers, client_id=f"pair-{i}"),
            batch_size=5,
            idle_wait=0.2,
        )
        for i in range(2)
    ]
    with running(relays[0]), running(relays[1]):
        assert wait_until(lambda: len(read_topic(cluster.bootstrap_servers, topic.name)) >= 40)
    assert sorted(r.published_total for r in relays)[0] == 0
    assert len(read_topic(cluster.bootstrap_servers, topic.name)) == 40


def test_rows_sent_over_a_week_ago_are_pruned_in_chunks_and_nothing_unsent_is(
    kit_pool, topic: Topic, make_event, unique: str
) -> None:
    events = [make_event(f"PAY_{unique}{n}") for n in range(7)]
    with kit_pool.connection() as conn, conn.transaction():
        for event in events:
            enqueue(conn, event, topic=topic.name)
        ids = [e.id for e in events]
        conn.execute(
            "UPDATE outbox SET sent_at = now() - interval '8 days' WHERE event_id = ANY(%s)",
            (ids[:5],),
        )
        conn.execute("UPDATE outbox SET sent_at = now() WHERE event_id = %s", (ids[5],))
    with kit_pool.connection() as conn:
        assert store.prune(conn, 7 * 24 * 3600, chunk=2) == 5
        left = conn.execute(
            "SELECT event_id FROM outbox WHERE event_id = ANY(%s) ORDER BY id", (ids,)
        ).fetchall()
    assert [row[0] for row in left] == ids[5:]  # sent yesterday, and not sent at all


def test_a_batch_the_broker_lost_never_lets_later_events_of_its_key_overtake_it(
    cluster: ClusterEnv, kit_db: str, kit_pool, topic: Topic, make_event, unique: str
) -> None:
    key = f"PAY_{unique}"
    labels = [f"{n:03d}" for n in range(120)]
    with kit_pool.connection() as conn, conn.transaction():
        for label in labels:
            enqueue(conn, make_event(key, label), topic=topic.name)
    fault = LostProduceRequest(topic.name, nth=2, queued_sends=len(labels))

    def lossy_producer(transactional_id: str) -> KafkaProducer:
        return fault.watch(
            create_transactional_producer(
                cluster.bootstrap_servers,
                client_id="lossy",
                transactional_id=transactional_id,
                kafka_client=fault.client,
            )
        )

    relay = OutboxRelay(kit_db, lossy_producer, batch_size=500)
    try:
        with psycopg.connect(kit_db, autocommit=True) as conn:
            for _ in range(5):
                try:
                    relay.relay_once(conn)
                except KafkaError:
                    continue
                if relay.unsent(conn) == 0:
                    break
    finally:
        relay.close()
    assert fault.fired.is_set()
    committed = [
        event.data["description"]
        for event in (decode(r.value) for r in read_topic(cluster.bootstrap_servers, topic.name))
        if event.subject == key
    ]
    assert list(dict.fromkeys(committed)) == labels  # no event seen before an earlier one
    assert committed == labels  # and the lost attempt left nothing a consumer can read


class LostProduceRequest:
    """Loses the ``nth`` produce request that carries ``topic`` (counting from 1), once."""

    def __init__(self, topic: str, *, nth: int, queued_sends: int) -> None:
        self.topic = topic
        self.nth = nth
        self.queued_sends = queued_sends  # answer once the producer was handed this many records
        self.fired = threading.Event()
        self._requests = 0
        self._sends = 0
        self._held: tuple[Future, Any] | None = None
        self._lock = threading.Lock()

    def client(self, **configs: Any) -> KafkaNetClient:
        """The ``kafka_client`` a producer under test is built with."""
        return _LosingClient(self, **configs)

    def watch(self, producer: KafkaProducer) -> KafkaProducer:
        """Count the records handed to ``producer``: the lost request is answered after
        ``queued_sends`` of them, so later batches of its partition wait queued behind it."""
        send = producer.send
        sender = producer._sender  # to wake the I/O thread that delivers the answer

        def counting_send(*args: Any, **kwargs: Any) -> Any:
            future = send(*args, **kwargs)
            with self._lock:
                self._sends += 1
            sender.wakeup()
            return future

        producer.send = counting_send
        return producer

    def _maybe_lose(self, request: Any) -> Future | None:
        if not isinstance(request, ProduceRequest):
            return None
        if not any(data.name == self.topic for data in request.topic_data):
            return None
        with self._lock:
            self._requests += 1
            if self._requests != self.nth:
                return None
            held = Future()
            self._held = (held, request)
            return held

    def _maybe_answer(self) -> None:
        with self._lock:
            if self._held is None or self._sends < self.queued_sends:
                return
            held, request = self._held
            self._held = None
        self.fired.set()
        held.success(_out_of_order_answer(request))


class _LosingClient(KafkaNetClient):  # type: ignore[misc]
    def __init__(self, fault: LostProduceRequest, **configs: Any) -> None:
        super().__init__(**configs)
        self._fault = fault

    def send(self, node_id: int, request: Any, **kwargs: Any) -> Future:
        lost = self._fault._maybe_lose(request)
        return lost if lost is not None else super().send(node_id, request, **kwargs)

    def poll(self, timeout_ms: float | None = None, future: Any = None) -> Any:
        self._fault._maybe_answer()  # on the producer's I/O thread, where answers belong
        return super().poll(timeout_ms=timeout_ms, future=future)


def _out_of_order_answer(request: Any) -> SimpleNamespace:
    """The ProduceResponse a broker gives for batches whose predecessor it never received."""
    return SimpleNamespace(
        responses=[
            SimpleNamespace(
                name=data.name,
                partition_responses=[
                    SimpleNamespace(
                        index=partition.index,
                        error_code=OutOfOrderSequenceNumberError.errno,
                        base_offset=-1,
                        log_append_time_ms=-1,
                        log_start_offset=-1,
                        record_errors=[],
                        error_message=None,
                    )
                    for partition in data.partition_data
                ],
            )
            for data in request.topic_data
        ]
    )
