"""The outbox and its relay against the real Kafka and PostgreSQL."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from localcluster.testing import ClusterEnv
from payevents import Envelope, decode
from payevents.topics import Topic
from paykit.db import Connection
from paykit.kafka_clients import create_producer
from paykit.outbox import OutboxRelay, enqueue
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
    stop = threading.Event()
    producer = create_producer(cluster.bootstrap_servers, client_id="order-relay")
    relay = OutboxRelay(kit_db, producer, batch_size=30, idle_wait=0.2)
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    seen: dict[str, list[str]] = defaultdict(list)

    def remember(conn: Connection, envelope: Envelope) -> None:
        seen[envelope.subject].append(envelope.data["description"])

    try:
        with running(make_consumer(topic, remember, batch_size=7)):
            assert wait_until(lambda: sum(map(len, seen.values())) == 100, timeout=60)
    finally:
        stop.set()
        thread.join(timeout=30)
        producer.close()
    assert {key: seen[key] for key in keys} == {
        key: [f"{n:03d}" for n in range(25)] for key in keys
    }


def test_the_relay_wakes_on_notify_instead_of_waiting_out_its_poll(
    cluster: ClusterEnv, kit_db: str, kit_pool, topic: Topic, make_event
) -> None:
    stop = threading.Event()
    producer = create_producer(cluster.bootstrap_servers, client_id="notify-relay")
    relay = OutboxRelay(kit_db, producer, idle_wait=60.0)  # would sleep a minute between polls
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
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
    finally:
        stop.set()
        thread.join(timeout=90)
        producer.close()


def test_only_one_relay_publishes_at_a_time(
    cluster: ClusterEnv, kit_db: str, kit_pool, topic: Topic, make_event
) -> None:
    with kit_pool.connection() as conn, conn.transaction():
        for n in range(40):
            enqueue(conn, make_event(f"PAY_pair{n}"), topic=topic.name)
    stop = threading.Event()
    producers = [
        create_producer(cluster.bootstrap_servers, client_id=f"pair-{i}") for i in range(2)
    ]
    relays = [OutboxRelay(kit_db, p, batch_size=5, idle_wait=0.2) for p in producers]
    threads = [threading.Thread(target=r.run, args=(stop,), daemon=True) for r in relays]
    for t in threads:
        t.start()
    try:
        assert wait_until(lambda: len(read_topic(cluster.bootstrap_servers, topic.name)) >= 40)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        for p in producers:
            p.close()
    assert sorted(r.published_total for r in relays)[0] == 0
    assert len(read_topic(cluster.bootstrap_servers, topic.name)) == 40
