"""Helpers for integration tests of services built on the kit (real Kafka and PostgreSQL).

Every helper makes names unique per call, so tests need no cleanup between runs.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import psycopg
from kafka import KafkaConsumer
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from paykit.kafka_reading import UnknownTopic, read_to_end
from paykit.migrations import migrate


@contextmanager
def scratch_database(
    admin_url: str, sources: dict[str, Path], prefix: str = "scratch"
) -> Iterator[str]:
    """A fresh database with ``sources`` migrated in; dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(admin_url, dbname=name)
    try:
        migrate(url, sources)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def database_name(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


class Runnable(Protocol):
    def run(self) -> None: ...
    def stop(self) -> None: ...


@contextmanager
def running(consumer: Runnable) -> Iterator[threading.Thread]:
    """Run ``consumer`` (or a relay) in a thread for the block, then stop it and re-raise."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            consumer.run()
        except BaseException as error:  # handed to the test thread below
            errors.append(error)

    thread = threading.Thread(target=target, name="test-consumer", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        consumer.stop()
        thread.join(timeout=60)
    if errors:
        raise errors[0]


def read_topic(bootstrap_servers: str, topic: str, *, timeout: float = 10.0) -> list[Any]:
    """Every committed record now in ``topic`` (none if it does not exist), read without a
    consumer group."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    try:
        return list(read_to_end(consumer, topic, timeout=timeout))
    except UnknownTopic:
        return []
    finally:
        consumer.close()
