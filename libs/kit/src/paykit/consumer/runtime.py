"""The consumer runtime every service's workers run on.

One loop: poll a batch, decode, apply each record with its inbox row in the database, route the
failures to retry tiers or the DLQ, and only then commit offsets. A crash anywhere before the
offset commit means redelivery, and the inbox turns redelivery into a no-op, so every effect
happens exactly once. Retry topics are consumed by the same group; a retry record that is not
due yet pauses its partition (never the main topic, never a sleep) until it is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psycopg
import structlog
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from psycopg_pool import ConnectionPool

from payevents import Envelope, InvalidEvent, decode
from payevents.topics import Topic
from paykit.consumer import metrics
from paykit.consumer.errors import DlqLimitExceeded, InvalidMessage, RetryableError
from paykit.consumer.routing import H_NOT_BEFORE, DlqLimit, Failure, header, route_failure
from paykit.db import Connection
from paykit.signals import on_stop_signals

log = structlog.get_logger(__name__)


class Handler(Protocol):
    """Applies one event inside the open transaction ``conn``; raises to refuse it."""

    def __call__(self, conn: Connection, envelope: Envelope) -> None: ...


@dataclass
class ConsumerSettings:
    topic: Topic
    group: str
    batch_size: int = 100
    transaction_per_batch: bool = True
    retry_delays: tuple[float, ...] | None = None  # default: the catalogue's
    poll_timeout: float = 0.5
    liveness_file: Path | None = None
    lag_interval: float = 10.0
    dlq_limit: DlqLimit = field(default_factory=DlqLimit)

    @property
    def delays(self) -> tuple[float, ...]:
        if self.retry_delays is not None:
            return self.retry_delays
        return self.topic.consumer(self.group).retry_delays

    def topics(self) -> list[str]:
        retries = [self.topic.retry_topic(self.group, n) for n in range(1, len(self.delays) + 1)]
        return [self.topic.name, *retries]


@dataclass(eq=False)
class _Outcome:
    record: Any
    envelope: Envelope | None = None
    failure: Failure | None = None


class Consumer:
    def __init__(
        self,
        settings: ConsumerSettings,
        handler: Handler,
        pool: ConnectionPool,
        kafka_consumer: KafkaConsumer,
        producer: KafkaProducer,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.pool = pool
        self.kafka = kafka_consumer
        self.producer = producer
        self.clock = clock
        self._stop = threading.Event()
        self._paused: dict[TopicPartition, float] = {}
        self._last_lag = 0.0

    def stop(self) -> None:
        """Finish the batch in hand, commit, and return from ``run``."""
        self._stop.set()

    def run(self, *, max_batches: int | None = None) -> None:
        on_stop_signals(self.stop)
        self.kafka.subscribe(self.settings.topics())
        log.info("consumer_started", group=self.settings.group, topics=self.settings.topics())
        batches = 0
        try:
            while not self._stop.is_set():
                self._touch_liveness()
                self._resume_due()
                polled = self.kafka.poll(
                    timeout_ms=int(self._poll_timeout() * 1000),
                    max_records=self.settings.batch_size,
                )
                if polled:
                    self.process(polled)
                    batches += 1
                    if max_batches is not None and batches >= max_batches:
                        break
                self._report_lag()
        finally:
            self.kafka.close(autocommit=False)
            log.info("consumer_stopped", group=self.settings.group)

    def process(self, polled: dict[TopicPartition, list[Any]]) -> None:
        """Apply one polled batch, route its failures, then commit its offsets."""
        records, offsets = self._due_records(polled)
        for record in records:
            metrics.CONSUMED.labels(self.settings.group, record.topic).inc()
        outcomes = self._apply(records)
        self._route(outcomes)
        if offsets:
            self.kafka.commit(
                offsets={tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}
            )

    def _due_records(
        self, polled: dict[TopicPartition, list[Any]]
    ) -> tuple[list[Any], dict[TopicPartition, int]]:
        """Records to apply now, and the offset to commit for each partition afterwards."""
        now_ms = self.clock() * 1000
        due: list[Any] = []
        offsets: dict[TopicPartition, int] = {}
        for tp, batch in polled.items():
            for record in batch:
                not_before = header(record.headers, H_NOT_BEFORE)
                if tp.topic != self.settings.topic.name and not_before and int(not_before) > now_ms:
                    self.kafka.pause(tp)
                    self.kafka.seek(tp, record.offset)
                    self._paused[tp] = int(not_before) / 1000
                    offsets[tp] = record.offset
                    break
                due.append(record)
                offsets[tp] = record.offset + 1
        return due, offsets

    def _apply(self, records: list[Any]) -> list[_Outcome]:
        outcomes = [_Outcome(record) for record in records]
        for outcome in outcomes:
            try:
                outcome.envelope = decode(outcome.record.value, outcome.record.headers)
            except InvalidEvent as error:
                outcome.failure = Failure("invalid", error)
        decoded = [outcome for outcome in outcomes if outcome.envelope is not None]
        with self.pool.connection() as conn:
            if not self.settings.transaction_per_batch:
                for outcome in decoded:
                    self._apply_one(conn, outcome)
            elif not self._apply_batch(conn, decoded):
                with conn.transaction():
                    for outcome in decoded:
                        self._apply_one(conn, outcome)
        return outcomes

    def _apply_batch(self, conn: Connection, outcomes: list[_Outcome]) -> bool:
        """The fast path: one inbox statement and no savepoints for the whole batch.

        When any handler raises, the transaction is rolled back and False tells the caller to
        apply the batch again event by event, each in a savepoint, to find the culprit; batch
        handlers therefore do database work only (they may run twice).
        """
        group = self.settings.group
        try:
            with conn.transaction():
                fresh = {
                    row[0]
                    for row in conn.execute(
                        "INSERT INTO inbox (consumer, event_id) SELECT %s, unnest(%s::text[])"
                        " ON CONFLICT DO NOTHING RETURNING event_id",
                        (group, [o.envelope.id for o in outcomes if o.envelope]),
                    )
                }
                applied: set[_Outcome] = set()
                for outcome in outcomes:
                    assert outcome.envelope is not None
                    if outcome.envelope.id in fresh:
                        fresh.discard(outcome.envelope.id)  # the same event twice in a batch
                        self.handler(conn, outcome.envelope)
                        applied.add(outcome)
        except psycopg.OperationalError:
            raise
        except Exception as error:
            log.info("batch_fallback", group=group, error_type=type(error).__name__)
            return False
        for outcome in outcomes:
            counter = metrics.PROCESSED if outcome in applied else metrics.DUPLICATES
            counter.labels(group, outcome.record.topic).inc()
        return True

    def _apply_one(self, conn: Connection, outcome: _Outcome) -> None:
        labels = (self.settings.group, outcome.record.topic)
        envelope = outcome.envelope
        assert envelope is not None
        try:
            with conn.transaction():
                first_time = conn.execute(
                    "INSERT INTO inbox (consumer, event_id) VALUES (%s, %s)"
                    " ON CONFLICT DO NOTHING RETURNING 1",
                    (self.settings.group, envelope.id),
                ).fetchone()
                if first_time is None:
                    metrics.DUPLICATES.labels(*labels).inc()
                    return
                self.handler(conn, envelope)
        except psycopg.OperationalError:
            raise  # the database itself failed: nothing is committed, the batch is redelivered
        except InvalidMessage as error:
            outcome.failure = Failure("invalid", error)
        except Exception as error:  # routed to a retry tier, never swallowed
            log.warning(
                "handler_failed",
                group=self.settings.group,
                event_id=envelope.id,
                event_type=envelope.type,
                error_type=type(error).__name__,
                error=str(error),
                # an expected, transient failure needs no traceback; anything else does
                exc_info=not isinstance(error, RetryableError),
            )
            outcome.failure = Failure("retryable", error)
        else:
            metrics.PROCESSED.labels(*labels).inc()

    def _route(self, outcomes: Iterable[_Outcome]) -> None:
        futures = []
        for outcome in outcomes:
            failure, record = outcome.failure, outcome.record
            if failure is None:
                self.settings.dlq_limit.record(False)
                continue
            route = route_failure(
                self.settings.topic,
                self.settings.group,
                self.settings.delays,
                record_topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                headers=record.headers,
                failure=failure,
                now=self.clock(),
            )
            if route.dead_letter:
                self.settings.dlq_limit.record(True)
                if self.settings.dlq_limit.exceeded():
                    self.producer.flush()
                    raise DlqLimitExceeded(
                        f"group {self.settings.group}: most recent messages were dead-lettered "
                        f"(last: {failure.error_type}: {failure.message})"
                    )
                metrics.DEAD_LETTERED.labels(self.settings.group, record.topic).inc()
                log.error(
                    "message_dead_lettered",
                    group=self.settings.group,
                    dlq=route.topic,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error_type=failure.error_type,
                )
            else:
                self.settings.dlq_limit.record(False)
                metrics.RETRIED.labels(self.settings.group, record.topic).inc()
            futures.append(
                self.producer.send(
                    route.topic, key=record.key, value=record.value, headers=route.headers
                )
            )
        if futures:
            self.producer.flush()
            for future in futures:
                future.get(timeout=30)

    def _poll_timeout(self) -> float:
        if not self._paused:
            return self.settings.poll_timeout
        until_next = min(self._paused.values()) - self.clock()
        return max(0.0, min(self.settings.poll_timeout, until_next))

    def _resume_due(self) -> None:
        now = self.clock()
        assigned = self.kafka.assignment()
        for tp, resume_at in list(self._paused.items()):
            if tp not in assigned:
                del self._paused[tp]
            elif resume_at <= now:
                self.kafka.resume(tp)
                del self._paused[tp]

    def _touch_liveness(self) -> None:
        if self.settings.liveness_file is not None:
            self.settings.liveness_file.touch()

    def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._last_lag < self.settings.lag_interval:
            return
        self._last_lag = now
        assigned = list(self.kafka.assignment())
        if not assigned:
            return
        ends = self.kafka.end_offsets(assigned)
        for tp in assigned:
            lag = max(0, ends.get(tp, 0) - self.kafka.position(tp))
            metrics.LAG.labels(self.settings.group, tp.topic, str(tp.partition)).set(lag)
