"""The outbox relay: publishes unsent rows in id order and marks them sent afterwards.

One relay per database leads (a PostgreSQL advisory lock, held by its connection); the others
wait as hot standbys. The leader publishes each batch as one Kafka transaction (see
``paykit.outbox.publisher``), sets aside a row Kafka will never accept (quarantine) so it holds
back only the later rows of its key, and retries everything else with backoff. Its database
connection has connect and keepalive timeouts; a lost connection is re-opened with backoff, and
whichever relay gets the lock next leads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import psycopg
import structlog
from kafka import KafkaProducer

from paykit.db import Connection
from paykit.outbox import store
from paykit.outbox.metrics import HELD, PUBLISH_FAILURES, PUBLISHED, QUARANTINED, UNSENT
from paykit.outbox.publisher import (
    BatchRefused,
    ProducerFactory,
    PublishFailed,
    Refusal,
    TransactionalPublisher,
    describe,
    transactional_producers,
)
from paykit.outbox.resilience import Backoff, Health, SilentHealth, connect
from paykit.outbox.store import OutboxRow

log = structlog.get_logger(__name__)

_RELAY_LOCK_KEY = 0x6F7574626F78  # "outbox"
_PRUNE_EVERY_SECONDS = 600.0


@dataclass
class _Outcome:
    published: int = 0
    refused: list[Refusal] = field(default_factory=list)


class OutboxRelay:
    def __init__(
        self,
        database_url: str,
        producers: ProducerFactory | KafkaProducer,
        *,
        batch_size: int = 500,
        idle_wait: float = 1.0,
        sent_retention_seconds: float = 7 * 24 * 3600,
        on_published: Callable[[Sequence[OutboxRow]], None] | None = None,
        known_topics: Collection[str] | None = None,
        transactional_id: str | None = None,
        health: Health | None = None,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        """``known_topics``: the topic catalogue; a row for any other topic is quarantined
        without asking the broker. ``transactional_id`` defaults to one derived from the
        database's name, the same for every relay of that database."""
        self.database_url = database_url
        if isinstance(producers, KafkaProducer):
            # A ready-made producer is not this database's transactional one: the relay builds
            # its own, to the same cluster and with the same client id.
            config = producers.config
            producers = transactional_producers(
                config["bootstrap_servers"], client_id=config["client_id"]
            )
        self.new_producer = producers
        self.batch_size = batch_size
        self.idle_wait = idle_wait
        self.sent_retention_seconds = sent_retention_seconds
        self.on_published = on_published
        self.known_topics = known_topics
        self.transactional_id = transactional_id
        self.health: Health = health or SilentHealth()
        self.backoff = backoff
        self.published_total = 0
        self.quarantined_total = 0
        self.leading = threading.Event()  # set while this relay holds the lock and listens
        self._publisher: TransactionalPublisher | None = None
        self._stop = threading.Event()

    def run(self, stop: threading.Event | None = None) -> None:
        """Publish until ``stop`` is set (or ``stop()`` called): lead, or wait as a standby
        while another relay leads; a lost database connection is re-opened with backoff
        rather than ending the process."""
        if stop is not None:
            self._stop = stop
        stop = self._stop
        reconnect = self.backoff()
        try:
            while not stop.is_set():
                try:
                    with connect(self.database_url) as conn:
                        reconnect.reset()
                        self.health.report(ready=True)
                        self._lead_or_stand_by(conn, stop)
                except (psycopg.OperationalError, psycopg.InterfaceError) as error:
                    wait = reconnect.next()
                    self.health.report(ready=False, reason=f"database unreachable: {error}")
                    log.warning("outbox_relay_database_lost", error=str(error), retry_in=wait)
                    self._sleep(stop, wait)
        finally:
            self.close()

    def stop(self) -> None:
        """Ask ``run`` to return once the batch in hand is published; safe from any thread."""
        self._stop.set()

    def close(self) -> None:
        """Close the relay's Kafka producer (``run`` does so itself when it returns)."""
        if self._publisher is not None:
            self._publisher.close()

    def relay_once(self, conn: Connection) -> int:
        """Publish one batch of publishable rows in id order; return how many were published.

        Raises ``PublishFailed`` when Kafka failed the batch for a reason worth retrying;
        nothing of it is then visible, and rows refused for good are quarantined either way.
        """
        rows = store.publishable(conn, self.batch_size)
        return self._publish(conn, rows).published if rows else 0

    def unsent(self, conn: Connection) -> int:
        return store.backlog(conn).unsent

    def prune(self, conn: Connection) -> int:
        return store.prune(conn, self.sent_retention_seconds)

    def _lead_or_stand_by(self, conn: Connection, stop: threading.Event) -> None:
        while not stop.is_set():
            self.health.beat()
            locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (_RELAY_LOCK_KEY,))
            if locked.fetchone() != (True,):
                self._sleep(stop, self.idle_wait)
                continue
            try:
                self._lead(conn, stop)
            finally:
                if not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (_RELAY_LOCK_KEY,))

    def _lead(self, conn: Connection, stop: threading.Event) -> None:
        conn.execute(f"LISTEN {store.CHANNEL}")
        self.leading.set()
        log.info("outbox_relay_leading")
        try:
            self._publish_until(conn, stop)
        finally:
            self.leading.clear()
            self.close()  # a producer outliving the lock could only be fenced by the next leader
            if not conn.closed:
                conn.execute(f"UNLISTEN {store.CHANNEL}")

    def _publish_until(self, conn: Connection, stop: threading.Event) -> None:
        retry = self.backoff()
        last_prune = float("-inf")
        while not stop.is_set():
            self.health.beat()
            rows = store.publishable(conn, self.batch_size)
            try:
                outcome = self._publish(conn, rows) if rows else _Outcome()
            except PublishFailed as error:
                wait = retry.next()
                PUBLISH_FAILURES.inc()
                self.health.report(ready=False, reason=f"kafka: {error}")
                log.warning("outbox_publish_failed", error=str(error), retry_in=wait)
                self._sleep(stop, wait)
                continue
            retry.reset()
            self.health.report(ready=True)
            if time.monotonic() - last_prune > _PRUNE_EVERY_SECONDS:
                self.prune(conn)
                last_prune = time.monotonic()
            if len(rows) < self.batch_size or outcome.refused:
                self._update_backlog(conn)
            if len(rows) < self.batch_size:
                self._wait_for_writers(conn, stop)

    def _publish(self, conn: Connection, rows: Sequence[OutboxRow]) -> _Outcome:
        """Publish ``rows``; when the broker refuses the transaction for a reason that belongs
        to one record without naming it, halve the rows until the record is alone."""
        if not rows:
            return _Outcome()
        publisher = self._ready_publisher(conn)
        try:
            published = publisher.publish(rows)
        except BatchRefused as refused:
            self._quarantine(conn, refused.refused)
            rest = _not_held(rows, refused.refused)
            if len(rest) == 1:
                alone = [Refusal(rest[0], describe(refused.cause))]
                self._quarantine(conn, alone)
                return _Outcome(0, refused.refused + alone)
            left = self._publish(conn, rest[: len(rest) // 2])
            right = self._publish(conn, _not_held(rest[len(rest) // 2 :], left.refused))
            return _Outcome(left.published + right.published, left.refused + right.refused)
        except PublishFailed as failed:
            self._quarantine(conn, failed.refused)
            raise
        self._quarantine(conn, published.refused)
        if self.on_published is not None:
            self.on_published(published.rows)
        store.mark_sent(conn, published.rows)
        self.published_total += len(published.rows)
        PUBLISHED.inc(len(published.rows))
        return _Outcome(len(published.rows), published.refused)

    def _ready_publisher(self, conn: Connection) -> TransactionalPublisher:
        if self._publisher is None:
            transactional_id = self.transactional_id or _transactional_id_for(conn)
            self._publisher = TransactionalPublisher(
                self.new_producer,
                transactional_id,
                known_topics=self.known_topics,
                heartbeat=self.health.beat,
            )
        return self._publisher

    def _quarantine(self, conn: Connection, refusals: Sequence[Refusal]) -> None:
        for refusal in refusals:
            row = refusal.row
            store.quarantine(conn, row, refusal.reason)
            self.quarantined_total += 1
            log.error(
                "outbox_row_quarantined",
                outbox_id=row.id,
                event_id=row.event_id,
                topic=row.topic,
                key=row.key.decode(errors="replace"),
                error=refusal.reason,
            )

    def _update_backlog(self, conn: Connection) -> None:
        backlog = store.backlog(conn)
        UNSENT.set(backlog.unsent)
        QUARANTINED.set(backlog.quarantined)
        HELD.set(backlog.held)

    def _wait_for_writers(self, conn: Connection, stop: threading.Event) -> None:
        """Sleep until a writer notifies or ``idle_wait`` passes, checking ``stop`` often.

        The timed poll catches a notification that arrived while we were publishing.
        """
        waited = 0.0
        while waited < self.idle_wait and not stop.is_set():
            self.health.beat()
            step = min(0.5, self.idle_wait - waited)
            if list(conn.notifies(timeout=step, stop_after=1)):
                return
            waited += step

    def _sleep(self, stop: threading.Event, seconds: float) -> None:
        """Wait ``seconds`` (or until ``stop``) while telling the probe the loop is alive."""
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self.health.beat()
            stop.wait(min(1.0, left))


def _not_held(rows: Sequence[OutboxRow], refusals: Sequence[Refusal]) -> list[OutboxRow]:
    """``rows`` without the refused ones and without any later row of a refused row's key."""
    first_refused: dict[tuple[str, bytes], int] = {}
    for refusal in refusals:
        key = refusal.row.ordering_key
        first_refused[key] = min(first_refused.get(key, refusal.row.id), refusal.row.id)
    return [row for row in rows if row.id < first_refused.get(row.ordering_key, row.id + 1)]


def _transactional_id_for(conn: Connection) -> str:
    """The same for every relay of one database, so a new leader fences the one before."""
    row = conn.execute("SELECT current_database()").fetchone()
    return f"outbox-relay.{row[0] if row else 'unknown'}"
