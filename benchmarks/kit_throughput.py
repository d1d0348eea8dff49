"""Events per second through the kit's outbox relay and consumer runtime, beside plain Kafka.

The baselines show what the broker and kafka-python allow on this machine (an idempotent
producer with acks=all; a manual-commit consumer committing once per poll); the kit's figures
show what the transactional outbox and the inbox-guarded, database-writing consumer cost on
top. It is meant for the private ``bench`` cluster, not the dev or test one:

    uv run python benchmarks/kit_throughput.py --start-cluster
    # or, with the bench cluster already up:
    set -a; . .local/bench/cluster.env; set +a
    uv run python benchmarks/kit_throughput.py --events 20000 --batch-size 500
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from localcluster.config import load_config
from localcluster.topics import ensure_topics
from payevents import Envelope, encode, new_event, physical_topics
from payevents.topics import ConsumerGroup, Topic
from paykit.consumer import Consumer, ConsumerSettings, Handler
from paykit.db import Connection, create_pool
from paykit.kafka_clients import (
    create_consumer,
    create_producer,
    create_transactional_producer,
)
from paykit.logging import configure_logging
from paykit.migrations import KIT_MIGRATIONS
from paykit.outbox import OutboxRelay, enqueue
from paykit.outbox.publisher import transactional_producers
from paykit.testing import running, scratch_database, wait_until

BENCH_SQL = Path(__file__).with_name("sql")
BENCH_CLUSTER = {
    "PAY_CLUSTER": "bench",
    "PAY_KAFKA_PORT": "31092",
    "PAY_KAFKA_CONTROLLER_PORT": "31093",
    "PAY_PG_PORT": "31432",
    "PAY_REDIS_PORT": "31379",
    "PAY_HTTP_PORT_BASE": "31500",
}
ENQUEUE_TRANSACTION_ROWS = 500
DEADLINE_SECONDS = 120.0
BASELINE_PRODUCE = "plain produce"
BASELINE_CONSUME = "plain consume"


@dataclass(frozen=True)
class BenchEnv:
    bootstrap_servers: str
    admin_url: str


@dataclass(frozen=True)
class Figure:
    name: str
    events: int
    seconds: float
    baseline: str | None = None

    @property
    def per_second(self) -> float:
        return self.events / self.seconds


def bench_env(environ: Mapping[str, str]) -> BenchEnv:
    missing = [n for n in ("KAFKA_BOOTSTRAP_SERVERS", "PAY_PG_ADMIN_URL") if not environ.get(n)]
    if missing:
        raise SystemExit(
            f"missing {', '.join(missing)}: pass --start-cluster, or load a cluster first with "
            "`set -a; . .local/bench/cluster.env; set +a`"
        )
    return BenchEnv(environ["KAFKA_BOOTSTRAP_SERVERS"], environ["PAY_PG_ADMIN_URL"])


def localcluster(environ: Mapping[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "localcluster", *args], env=environ, stdout=sys.stderr, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"localcluster {' '.join(args)} failed with exit code {result.returncode}")


@contextmanager
def bench_cluster() -> Iterator[BenchEnv]:
    """The private bench cluster, started for the block and stopped however the block ends."""
    environ = {**os.environ, **BENCH_CLUSTER}
    try:
        localcluster(environ, "up", "--no-services")
        env_file = load_config(environ).env_file
        lines = env_file.read_text().splitlines()
        yield bench_env(dict(line.split("=", 1) for line in lines if "=" in line))
    finally:
        localcluster(environ, "down")


def payment_created(number: int) -> Envelope:
    payment_id = f"PAY_bench_{number:08d}"
    return new_event(
        "payment.created",
        {
            "payment_id": payment_id,
            "merchant_id": "MER_1",
            "amount": 1000 + number % 5000,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "description": f"Order {number} at the bench shop",
        },
        source="bench",
        subject=payment_id,
    )


def produce_plain(producer: KafkaProducer, topic: str, envelopes: Sequence[Envelope]) -> Figure:
    messages = [(envelope.subject.encode(), *encode(envelope)) for envelope in envelopes]
    producer.partitions_for(topic)  # fetch metadata before the clock starts
    started = time.perf_counter()
    futures = [producer.send(topic, key=k, value=v, headers=h) for k, v, h in messages]
    producer.flush()
    for future in futures:
        future.get(timeout=30)
    return Figure(BASELINE_PRODUCE, len(futures), time.perf_counter() - started)


def produce_in_transactions(
    bootstrap: str, topic: str, envelopes: Sequence[Envelope], batch_size: int
) -> Figure:
    """What the relay's transactions cost kafka-python on their own: the same records in
    transactions of ``batch_size``, each waited for and committed before the next."""
    messages = [(envelope.subject.encode(), *encode(envelope)) for envelope in envelopes]
    producer = create_transactional_producer(
        bootstrap, client_id="bench-tx", transactional_id=f"bench-tx-{topic}"
    )
    try:
        producer.init_transactions()
        producer.partitions_for(topic)
        started = time.perf_counter()
        for start in range(0, len(messages), batch_size):
            producer.begin_transaction()
            futures = [
                producer.send(topic, key=k, value=v, headers=h)
                for k, v, h in messages[start : start + batch_size]
            ]
            for future in futures:
                future.get(timeout=30)
            producer.commit_transaction()
        seconds = time.perf_counter() - started
    finally:
        producer.close()
    name = f"plain produce (tx per {batch_size})"
    return Figure(name, len(messages), seconds, BASELINE_PRODUCE)


def prepared(consumer: KafkaConsumer, topics: Sequence[str]) -> KafkaConsumer:
    """Metadata and group coordinator found before the clock starts, so only joining and
    reading are timed: a group joined without metadata assigns nothing and rebalances, and the
    first group on a fresh cluster creates the offsets topic."""
    for topic in topics:
        consumer.partitions_for_topic(topic)
    consumer.committed(TopicPartition(topics[0], 0))
    return consumer


def consume_plain(bootstrap: str, topic: str, expected: int, batch_size: int) -> Figure:
    group = f"{topic}-group"
    consumer = prepared(create_consumer(bootstrap, group_id=group, client_id=group), [topic])
    seen = 0
    started = time.perf_counter()
    try:
        consumer.subscribe([topic])
        while seen < expected:
            if time.perf_counter() - started > DEADLINE_SECONDS:
                raise TimeoutError(f"plain consumer read {seen} of {expected} messages")
            polled = consumer.poll(timeout_ms=500, max_records=batch_size)
            if polled:
                seen += sum(len(records) for records in polled.values())
                consumer.commit()
        seconds = time.perf_counter() - started
    finally:
        consumer.close(autocommit=False)
    return Figure(BASELINE_CONSUME, seen, seconds)


def enqueue_all(url: str, topic: str, envelopes: Sequence[Envelope]) -> Figure:
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        for start in range(0, len(envelopes), ENQUEUE_TRANSACTION_ROWS):
            with conn.transaction():
                for envelope in envelopes[start : start + ENQUEUE_TRANSACTION_ROWS]:
                    enqueue(conn, envelope, topic=topic, key=envelope.subject)
    name = f"outbox enqueue (tx {ENQUEUE_TRANSACTION_ROWS})"
    return Figure(name, len(envelopes), time.perf_counter() - started)


def relay_all(url: str, bootstrap: str, expected: int, batch_size: int) -> Figure:
    """The relay as it runs: one Kafka transaction per batch, then the rows marked sent. The
    first batch, which also starts the transactional producer, is not timed."""
    producers = transactional_producers(bootstrap, client_id="bench-relay")
    relay = OutboxRelay(url, producers, batch_size=batch_size)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            untimed = relay.relay_once(conn)
            started = time.perf_counter()
            for _ in range(math.ceil(expected / batch_size) + 1):
                if relay.relay_once(conn) == 0:
                    break
            seconds = time.perf_counter() - started
    finally:
        relay.close()
    if relay.published_total != expected:
        raise RuntimeError(f"relay published {relay.published_total} of {expected} rows")
    name = f"outbox relay (batch {batch_size}, tx per batch)"
    return Figure(name, relay.published_total - untimed, seconds, BASELINE_PRODUCE)


def recorder(group: str) -> Handler:
    def record_effect(conn: Connection, envelope: Envelope) -> None:
        conn.execute(
            "INSERT INTO bench_effects (consumer, event_id, amount) VALUES (%s, %s, %s)",
            (group, envelope.id, envelope.data["amount"]),
        )

    return record_effect


def effects(conn: Connection, group: str) -> int:
    query = "SELECT count(*) FROM bench_effects WHERE consumer = %s"
    row = conn.execute(query, (group,)).fetchone()
    return int(row[0]) if row else 0


def consume_with_kit(env: BenchEnv, url: str, expected: int, settings: ConsumerSettings) -> Figure:
    group = settings.group
    pool = create_pool(url, max_size=2, name=group)
    router = create_producer(env.bootstrap_servers, client_id=f"{group}-router")
    kafka = create_consumer(env.bootstrap_servers, group_id=group, client_id=group)
    prepared(kafka, settings.topics())
    consumer = Consumer(settings, recorder(group), pool, kafka, router)
    try:
        with psycopg.connect(url, autocommit=True) as counter:
            started = time.perf_counter()
            with running(consumer):
                done = wait_until(
                    lambda: effects(counter, group) >= expected, DEADLINE_SECONDS, interval=0.05
                )
                seconds = time.perf_counter() - started
            applied = effects(counter, group)
    finally:
        router.close()
        pool.close()
    if not done:
        raise TimeoutError(f"consumer {group} applied {applied} of {expected} events")
    transactions = "tx per batch" if settings.transaction_per_batch else "tx per event"
    name = f"kit consumer (batch {settings.batch_size}, {transactions})"
    return Figure(name, applied, seconds, BASELINE_CONSUME)


def bench_topic(bootstrap: str, name: str, groups: Sequence[str] = ()) -> Topic:
    consumers = tuple(ConsumerGroup(group, retry_delays=(1.0,)) for group in groups)
    topic = Topic(name=name, partitions=6, key="payment id", consumers=consumers)
    ensure_topics(bootstrap, (topic,))
    return topic


def delete_topics(bootstrap: str, topics: tuple[Topic, ...]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-cleanup")
    try:
        admin.delete_topics([spec.name for spec in physical_topics(topics)])
    finally:
        admin.close()


def run(env: BenchEnv, events: int, batch_size: int) -> list[Figure]:
    """Every figure, measured on topics and a database made for this run and removed after."""
    run_id = uuid.uuid4().hex[:8]
    groups = (f"bench-{run_id}-batch", f"bench-{run_id}-event")
    plain = bench_topic(env.bootstrap_servers, f"bench-{run_id}-plain")
    in_transactions = bench_topic(env.bootstrap_servers, f"bench-{run_id}-tx")
    kit = bench_topic(env.bootstrap_servers, f"bench-{run_id}", groups)
    envelopes = [payment_created(number) for number in range(events)]
    print(f"{events} payment.created events of {len(encode(envelopes[0])[0])} bytes")
    producer = create_producer(env.bootstrap_servers, client_id="bench")
    sources = {"kit": KIT_MIGRATIONS, "bench": BENCH_SQL}
    figures: list[Figure] = []
    try:
        figures.append(report(produce_plain(producer, plain.name, envelopes)))
        figures.append(report(consume_plain(env.bootstrap_servers, plain.name, events, batch_size)))
        transactions = produce_in_transactions(
            env.bootstrap_servers, in_transactions.name, envelopes, batch_size
        )
        figures.append(report(transactions))
        with scratch_database(env.admin_url, sources, prefix="bench") as url:
            figures.append(report(enqueue_all(url, kit.name, envelopes)))
            figures.append(report(relay_all(url, env.bootstrap_servers, events, batch_size)))
            for group, per_batch in zip(groups, (True, False), strict=True):
                settings = ConsumerSettings(
                    kit, group, batch_size=batch_size, transaction_per_batch=per_batch
                )
                figures.append(report(consume_with_kit(env, url, events, settings)))
    finally:
        producer.close()
        delete_topics(env.bootstrap_servers, (plain, in_transactions, kit))
    return figures


def report(figure: Figure) -> Figure:
    print(f"  {figure.name}: {figure.events} in {figure.seconds:.2f}s", flush=True)
    return figure


def print_table(figures: Sequence[Figure]) -> None:
    rates = {figure.name: figure.per_second for figure in figures}
    print(f"\n{'name':44} {'events':>7} {'seconds':>8} {'events/s':>9} {'ratio':>6}")
    for figure in figures:
        base = rates.get(figure.baseline) if figure.baseline else None
        ratio = f"{figure.per_second / base:.2f}" if base else "-"
        print(
            f"{figure.name:44} {figure.events:>7} {figure.seconds:>8.2f}"
            f" {figure.per_second:>9.0f} {ratio:>6}"
        )
    print("ratio: producing and the relay to plain produce, kit consumers to plain consume")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="messages per stage")
    parser.add_argument("--batch-size", type=int, default=500, help="relay and poll batch")
    parser.add_argument(
        "--start-cluster", action="store_true", help="start the bench cluster, stop it after"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.batch_size < 1:
        parser.error("--events and --batch-size must be at least 1")
    configure_logging("bench", json=False, level="WARNING", stream=sys.stderr)
    if args.start_cluster:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill also stops the cluster
        with bench_cluster() as env:
            print_table(run(env, args.events, args.batch_size))
    else:
        print_table(run(bench_env(os.environ), args.events, args.batch_size))
    return 0


if __name__ == "__main__":
    sys.exit(main())
