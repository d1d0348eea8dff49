"""Kafka fixtures for the ledger's consumer tests: a private topic, a publisher, consumers."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kafka import KafkaProducer

from ledger_service.bootstrap import bootstrap
from ledger_service.entrypoints.consumers import poster
from ledger_service.settings import LedgerSettings
from localcluster.testing import ClusterEnv
from payevents import Envelope, decode, encode
from payevents.topics import Topic
from paykit.consumer import Consumer, ConsumerSettings
from paykit.db import create_pool
from paykit.kafka_clients import create_consumer, create_producer
from paykit.settings import Secret
from paykit.testing import read_topic

PROCESSES = Path(__file__).with_name("processes")


@pytest.fixture
def topic(cluster: ClusterEnv) -> Topic:
    """A payment-events stand-in of the test's own, six partitions, retry tiers of 0.3-0.9 s."""
    return cluster.private_topic(f"ledger-tests-{uuid.uuid4().hex[:10]}", partitions=6)


@pytest.fixture
def publish(cluster: ClusterEnv) -> Iterator[Callable[[Topic, Envelope], None]]:
    producer: KafkaProducer = create_producer(cluster.bootstrap_servers, client_id="ledger-tests")

    def send(topic: Topic, envelope: Envelope) -> None:
        value, headers = encode(envelope)
        producer.send(topic.name, key=envelope.subject.encode(), value=value, headers=headers)
        producer.flush()

    yield send
    producer.close()


def ledger_settings(database_url: str, bootstrap_servers: str) -> LedgerSettings:
    return LedgerSettings(
        database_url=Secret(database_url),
        kafka_bootstrap_servers=bootstrap_servers,
        auth_issuer="tests",
        auth_jwks_path=Path("/nonexistent"),
    )


@pytest.fixture
def poster_on(cluster: ClusterEnv) -> Iterator[Callable[..., Consumer]]:
    """The ledger's poster over a ledger database and a topic, run in a thread by the test."""
    closers: list[Callable[[], None]] = []

    def build(database_url: str, topic: Topic, **settings: Any) -> Consumer:
        group = topic.consumers[0].name
        service = bootstrap(ledger_settings(database_url, cluster.bootstrap_servers))
        pool = create_pool(database_url, max_size=2)
        producer = create_producer(cluster.bootstrap_servers, client_id=group)
        kafka = create_consumer(cluster.bootstrap_servers, group_id=group, client_id=group)
        closers.extend([service.close, pool.close, producer.close])
        return Consumer(
            ConsumerSettings(topic, group, **settings), poster(service), pool, kafka, producer
        )

    yield build
    for close in reversed(closers):
        close()


@pytest.fixture
def start_poster(cluster: ClusterEnv) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """The poster as a process of its own, returned once its consumer runs (a SIGTERM sent earlier
    would find no handler yet and kill it)."""
    started: list[subprocess.Popen[str]] = []

    def start(database_url: str, topic: Topic, *flags: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [
                sys.executable,
                str(PROCESSES / "ledger_consumer.py"),
                database_url,
                cluster.bootstrap_servers,
                topic.name,
                topic.consumers[0].name,
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        assert _until_printed(process, "consumer_started", timeout=60), "the poster never started"
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


def _until_printed(process: subprocess.Popen[str], text: str, timeout: float) -> bool:
    """Reads the process's output up to the first line holding `text`; those lines are not seen
    by a later communicate()."""
    seen = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if text in line:
                seen.set()
                return

    threading.Thread(target=read, daemon=True).start()
    return seen.wait(timeout)


@pytest.fixture
def dead_letters(cluster: ClusterEnv) -> Callable[[Topic], list[Any]]:
    def read(topic: Topic) -> list[Any]:
        return read_topic(cluster.bootstrap_servers, topic.dlq_topic(topic.consumers[0].name))

    return read


@pytest.fixture
def ledger_rows() -> Callable[..., list[tuple[Any, ...]]]:
    def query(database_url: str, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(database_url) as conn:
            return conn.execute(statement, params).fetchall()

    return query


def decoded(records: list[Any]) -> list[Envelope]:
    return [decode(record.value) for record in records]
