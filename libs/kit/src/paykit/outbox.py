"""Transactional outbox: write an event with the state change, publish it afterwards.

``enqueue`` inserts the event in the caller's transaction, so the event exists if and only if
the change committed. ``OutboxRelay`` publishes unsent rows in id order with the idempotent
producer, waits for every acknowledgement, and only then marks them sent. A relay killed
between publishing and marking publishes those rows again: duplicates, never losses;
consumers drop duplicates by event id. One relay per database publishes at a time (an advisory
lock), which keeps per-key order across batches; the others wait as hot standbys.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import psycopg
import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError
from prometheus_client import Counter, Gauge

from payevents import Envelope, encode
from paykit.db import Connection

log = structlog.get_logger(__name__)

PUBLISHED = Counter("paykit_outbox_published_total", "Outbox rows published and marked sent.")
PUBLISH_FAILURES = Counter("paykit_outbox_publish_failures_total", "Batches Kafka refused.")
UNSENT = Gauge("paykit_outbox_unsent", "Rows waiting to be published, seen when the relay idles.")

CHANNEL = "outbox"
_RELAY_LOCK_KEY = 0x6F7574626F78  # "outbox"


def enqueue(conn: Connection, envelope: Envelope, *, topic: str, key: str | None = None) -> None:
    """Add ``envelope`` to the outbox inside the caller's open transaction."""
    value, headers = encode(envelope)
    # One round trip: the row and the relay's wake-up call (delivered at commit, deduplicated
    # by PostgreSQL within the transaction).
    conn.execute(
        "WITH queued AS (INSERT INTO outbox (event_id, topic, key, value, headers)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING 1)"
        " SELECT pg_notify(%s, '') FROM queued",
        (
            envelope.id,
            topic,
            (key or envelope.subject).encode(),
            value,
            json.dumps([[name, raw.decode()] for name, raw in headers]),
            CHANNEL,
        ),
    )


@dataclass(frozen=True)
class OutboxRow:
    id: int
    event_id: str
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        producer: KafkaProducer,
        *,
        batch_size: int = 500,
        idle_wait: float = 1.0,
        sent_retention_seconds: float = 7 * 24 * 3600,
        on_published: Callable[[Sequence[OutboxRow]], None] | None = None,
    ) -> None:
        self.database_url = database_url
        self.producer = producer
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.sent_retention_seconds = sent_retention_seconds
        self.on_published = on_published
        self.published_total = 0
        self.leading = threading.Event()  # set while this relay holds the lock and listens

    def run(self, stop: threading.Event) -> None:
        """Publish until ``stop`` is set; block as a standby while another relay leads."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not stop.is_set():
                if conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (_RELAY_LOCK_KEY,)
                ).fetchone() != (True,):
                    stop.wait(self.idle_wait)
                    continue
                try:
                    self._lead(conn, stop)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_RELAY_LOCK_KEY,))

    def _lead(self, conn: Connection, stop: threading.Event) -> None:
        conn.execute(f"LISTEN {CHANNEL}")
        self.leading.set()
        try:
            self._publish_until(conn, stop)
        finally:
            self.leading.clear()
            conn.execute(f"UNLISTEN {CHANNEL}")

    def _publish_until(self, conn: Connection, stop: threading.Event) -> None:
        last_prune = 0.0
        while not stop.is_set():
            try:
                published = self.relay_once(conn)
            except KafkaError as error:
                PUBLISH_FAILURES.inc()
                log.warning("outbox_publish_failed", error=str(error))
                stop.wait(self.idle_wait)
                continue
            if time.monotonic() - last_prune > 600:
                self.prune(conn)
                last_prune = time.monotonic()
            if published < self.batch_size:
                UNSENT.set(self.unsent(conn))
                self._wait_for_writers(conn, stop)

    def _wait_for_writers(self, conn: Connection, stop: threading.Event) -> None:
        """Sleep until a writer notifies or ``idle_wait`` passes, checking ``stop`` often.

        The timed poll catches a notification that arrived while we were publishing.
        """
        waited = 0.0
        while waited < self.idle_wait and not stop.is_set():
            step = min(0.5, self.idle_wait - waited)
            if list(conn.notifies(timeout=step, stop_after=1)):
                return
            waited += step

    def relay_once(self, conn: Connection) -> int:
        """Publish one batch of unsent rows in id order; return how many were published."""
        rows = [
            OutboxRow(
                row[0],
                row[1],
                row[2],
                bytes(row[3]),
                bytes(row[4]),
                [(name, value.encode()) for name, value in row[5]],
            )
            for row in conn.execute(
                "SELECT id, event_id, topic, key, value, headers FROM outbox"
                " WHERE sent_at IS NULL ORDER BY id LIMIT %s",
                (self.batch_size,),
            )
        ]
        if not rows:
            return 0
        futures = [
            self.producer.send(row.topic, key=row.key, value=row.value, headers=row.headers)
            for row in rows
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)  # raises the send's KafkaError, leaving the rows unsent
        if self.on_published is not None:
            self.on_published(rows)
        conn.execute(
            "UPDATE outbox SET sent_at = now() WHERE id = ANY(%s)", ([row.id for row in rows],)
        )
        self.published_total += len(rows)
        PUBLISHED.inc(len(rows))
        return len(rows)

    def unsent(self, conn: Connection) -> int:
        row = conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(row[0]) if row else 0

    def prune(self, conn: Connection) -> int:
        deleted = conn.execute(
            "DELETE FROM outbox WHERE sent_at < now() - make_interval(secs => %s)",
            (self.sent_retention_seconds,),
        )
        return deleted.rowcount
