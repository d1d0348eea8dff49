"""The consumer runtime every service's workers run on.

Each polled batch goes through a chain of steps, each with one contract, and the offset commit
is the last of them:

1. schedule (``scheduling``): retry records not due yet pause their partition, untouched;
2. decode (``decoding``): every record becomes an envelope or an ``invalid`` failure, never a crash;
3. apply (``applying``): each envelope with its inbox row in a database transaction;
4. route (here): failures to their retry tier or the DLQ, waiting for every acknowledgement;
5. commit: the offsets after what was applied or routed.

A crash anywhere before step 5 means redelivery, and the inbox turns redelivery into a no-op.
Two situations hold every partition (paused, the group membership kept alive by polling):
the database cannot be reached (the batch is rewound and redone after a reconnect with
back-off), and the DLQ limit tripped (the consumer parks until an operator resumes it).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from psycopg_pool import ConnectionPool

from payevents.topics import Topic
from paykit.consumer import inbox, metrics
from paykit.consumer.applying import Applier, Handler
from paykit.consumer.decoding import Outcome, decode_record
from paykit.consumer.errors import ConsumerConfigError, DatabaseUnavailable
from paykit.consumer.lag import LagReporter
from paykit.consumer.parking import ParkStore
from paykit.consumer.routing import DlqLimit, route_failure
from paykit.consumer.scheduling import RetryScheduler
from paykit.consumer.taxonomy import connection_lost
from paykit.health import HealthFile
from paykit.signals import on_stop_signals

log = structlog.get_logger(__name__)


@dataclass
class ConsumerSettings:
    topic: Topic
    group: str
    batch_size: int = 100
    transaction_per_batch: bool = True
    # The handler calls other systems: the runtime holds no transaction while it runs (see
    # paykit.consumer.applying); it needs transaction_per_batch=False.
    handler_transactions: bool = False
    # With handler_transactions: how many handlers of a batch run at once, records of one key
    # one after another (see paykit.consumer.lanes); 1 runs the batch in order, one at a time.
    handler_concurrency: int = 1
    # With handler_concurrency above 1: seconds into a batch after which no handler starts;
    # the rest is delivered again, so a batch lasts at most this plus its slowest handler.
    batch_deadline: float | None = None
    retry_delays: tuple[float, ...] | None = None  # default: the catalogue's
    poll_timeout: float = 0.5
    health_file: Path | None = None
    lag_interval: float = 10.0
    dlq_limit: DlqLimit = field(default_factory=DlqLimit)
    hold_check_interval: float = 2.0
    reconnect_delays: tuple[float, float] = (0.5, 15.0)  # first and longest back-off
    inbox_retention: timedelta = inbox.INBOX_RETENTION
    prune_interval: float = 600.0

    def __post_init__(self) -> None:
        try:
            created = self.topic.consumer(self.group).retry_delays
        except KeyError as error:
            raise ConsumerConfigError(error.args[0]) from None
        if self.retry_delays is not None:
            if len(self.retry_delays) > len(created):
                raise ConsumerConfigError(
                    f"group {self.group} on {self.topic.name}: {len(self.retry_delays)} retry"
                    f" delays given but the topic catalogue creates {len(created)} retry tiers"
                )
            if not all(math.isfinite(d) and d > 0 for d in self.retry_delays):
                raise ConsumerConfigError(
                    f"group {self.group}: retry delays must be positive seconds,"
                    f" got {self.retry_delays}"
                )
        if self.handler_transactions and self.transaction_per_batch:
            raise ConsumerConfigError(
                f"group {self.group}: handler_transactions needs transaction_per_batch=False"
            )
        if self.batch_size < 1:
            raise ConsumerConfigError(f"group {self.group}: batch_size must be at least 1")
        self._check_concurrency()

    def _check_concurrency(self) -> None:
        if self.handler_concurrency < 1:
            raise ConsumerConfigError(f"group {self.group}: handler_concurrency must be at least 1")
        if self.handler_concurrency > 1 and not self.handler_transactions:
            # a handler in the runtime's transaction needs the batch's order and one connection
            raise ConsumerConfigError(
                f"group {self.group}: handler_concurrency above 1 needs handler_transactions"
            )
        if self.batch_deadline is None:
            return
        if self.handler_concurrency == 1:
            raise ConsumerConfigError(
                f"group {self.group}: batch_deadline needs handler_concurrency above 1"
            )
        if not (math.isfinite(self.batch_deadline) and self.batch_deadline > 0):
            raise ConsumerConfigError(
                f"group {self.group}: batch_deadline must be positive seconds,"
                f" got {self.batch_deadline}"
            )

    @property
    def delays(self) -> tuple[float, ...]:
        if self.retry_delays is not None:
            return self.retry_delays
        return self.topic.consumer(self.group).retry_delays

    def topics(self) -> list[str]:
        retries = [self.topic.retry_topic(self.group, n) for n in range(1, len(self.delays) + 1)]
        return [self.topic.name, *retries]


@dataclass
class _Hold:
    """Why every partition is paused, and when to look again."""

    kind: str  # "database" or "parked"
    reason: str
    next_check: float
    delay: float
    recorded: bool = False  # a park: written to the database yet


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: Consumer) -> None:
        self.consumer = consumer

    def on_partitions_revoked(self, revoked: Any) -> None:
        return None

    def on_partitions_assigned(self, assigned: Any) -> None:
        if self.consumer.held is not None and assigned:
            self.consumer.kafka.pause(*assigned)


# The longest pause between polls while the broker cannot be reached.
KAFKA_RETRY_MAX_DELAY = 5.0


def _broker_unreachable(error: KafkaError) -> bool:
    """A connection lost or refused, a timeout, a leader moving: kafka-python's retriable
    errors, which last as long as the broker is away; wait for it."""
    return bool(getattr(error, "retriable", False))


def _first_deferred(outcomes: Sequence[Outcome]) -> dict[TopicPartition, int]:
    first: dict[TopicPartition, int] = {}
    for outcome in outcomes:
        if outcome.deferred:
            tp = TopicPartition(outcome.record.topic, outcome.record.partition)
            first[tp] = min(first.get(tp, outcome.record.offset), outcome.record.offset)
    return first


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
        lag_client: Callable[[], KafkaConsumer] | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.kafka = kafka_consumer
        self.producer = producer
        self.clock = clock
        self.applier = Applier(
            pool,
            handler,
            settings.group,
            per_batch=settings.transaction_per_batch,
            handler_transactions=settings.handler_transactions,
            concurrency=settings.handler_concurrency,
        )
        self.scheduler = RetryScheduler(kafka_consumer, settings.topic.name, clock)
        self.parks = ParkStore(pool, settings.group)
        self.health = HealthFile(settings.health_file, name=settings.group)
        self.lag = (
            LagReporter(settings.group, lag_client, interval=settings.lag_interval)
            if lag_client is not None
            else None
        )
        self.held: _Hold | None = None
        self._stop = threading.Event()
        self._kafka_lost_at: float | None = None
        self._kafka_delay = 0.0
        self._next_prune = time.monotonic() + settings.prune_interval

    def stop(self) -> None:
        """Finish the batch in hand, commit, and return from ``run``. With concurrent handlers,
        only the handlers already running finish: the rest of the batch is delivered again."""
        self._stop.set()

    def run(self, *, max_batches: int | None = None) -> None:
        on_stop_signals(self.stop)
        group = self.settings.group
        self._await_topics()
        if self._stop.is_set():
            return
        self.kafka.subscribe(self.settings.topics(), listener=_Rebalance(self))
        log.info("consumer_started", group=group, topics=self.settings.topics())
        self._check_hold(starting=True)
        if self.lag is not None:
            self.lag.start()
        batches = 0
        try:
            while not self._stop.is_set():
                self.health.beat()
                if self.held is not None:
                    self._poll_held()
                    continue
                self.scheduler.resume_due()
                try:
                    polled = self.kafka.poll(
                        timeout_ms=int(
                            self.scheduler.poll_timeout(self.settings.poll_timeout) * 1000
                        ),
                        max_records=self.settings.batch_size,
                    )
                except KafkaError as error:
                    if not _broker_unreachable(error):
                        raise
                    self._wait_for_kafka(error)
                    continue
                if self._kafka_lost_at is not None:
                    self._kafka_back()
                if polled:
                    self.process(polled)
                    batches += 1
                    if max_batches is not None and batches >= max_batches:
                        break
                if self.lag is not None:
                    self.lag.own(frozenset(self.kafka.assignment()))
                self._prune_inbox()
        finally:
            if self.lag is not None:
                self.lag.stop()
            self.applier.close()
            self.kafka.close(autocommit=False)
            log.info("consumer_stopped", group=group)

    def _await_topics(self) -> None:
        """Join the group only once the client's metadata holds every topic subscribed to.

        A member that leads the group's first assignment without them assigns nothing, to itself
        and to every other member ("No partition metadata"), and kafka-python does not reliably
        rejoin when they show up later: the group would sit idle with lag growing. A topic that
        does not exist (yet) is waited for, not joined blind; the health file says which.
        """
        missing = self.settings.topics()
        delay = 0.0
        while not self._stop.is_set():
            try:
                missing = [topic for topic in missing if not self.kafka.partitions_for_topic(topic)]
            except KafkaError as error:
                if not _broker_unreachable(error):
                    raise
                self._wait_for_kafka(error)
                continue
            if not missing:
                break
            if delay == 0.0:
                log.warning(
                    "consumer_waiting_for_topics", group=self.settings.group, topics=missing
                )
            self.health.report(ready=False, reason=f"waiting for topics: {', '.join(missing)}")
            self.health.beat()
            delay = min(max(delay * 2, 0.2), KAFKA_RETRY_MAX_DELAY)
            self._stop.wait(delay)
        if self._kafka_lost_at is not None:
            self._kafka_back()
        elif delay:
            self.health.report(ready=True)

    def _wait_for_kafka(self, error: KafkaError) -> None:
        """The broker went away under a poll (kafka-python raises instead of retrying): not
        ready while it is gone, polling again with a growing pause, never exiting for it."""
        now = time.monotonic()
        if self._kafka_lost_at is None:
            self._kafka_lost_at, self._kafka_delay = now, 0.0
            log.warning("consumer_waiting_for_kafka", group=self.settings.group, error=str(error))
        self._kafka_delay = min(max(self._kafka_delay * 2, 0.2), KAFKA_RETRY_MAX_DELAY)
        self.health.report(ready=False, reason=f"waiting for Kafka: {error}")
        self._stop.wait(self._kafka_delay)

    def _kafka_back(self) -> None:
        assert self._kafka_lost_at is not None
        log.info(
            "consumer_kafka_back",
            group=self.settings.group,
            after_s=round(time.monotonic() - self._kafka_lost_at, 1),
        )
        self._kafka_lost_at = None
        if self.held is None:
            self.health.report(ready=True)

    def process(self, polled: dict[TopicPartition, list[Any]]) -> None:
        """Apply one polled batch, route its failures, then commit its offsets."""
        batch = self.scheduler.take_due(polled)
        for record in batch.records:
            metrics.CONSUMED.labels(self.settings.group, record.topic).inc()
        outcomes = [decode_record(record) for record in batch.records]
        try:
            self.applier.apply(outcomes, stopping=self._batch_stopping())
        except DatabaseUnavailable as error:
            self.scheduler.paused.clear()  # every partition is rewound and redone
            self._rewind(batch.starts)
            self._hold("database", f"database unavailable: {error}")
            return
        limit_before = self.settings.dlq_limit.snapshot()
        try:
            cut, tripped = self._route(outcomes)
        except KafkaError as error:
            # some sends may have landed; redoing the batch may repeat them, never lose them
            self.settings.dlq_limit.restore(limit_before)
            self._rewind(batch.starts)
            log.warning("failure_routing_failed", group=self.settings.group, error=str(error))
            return
        self._commit({tp: cut.get(tp, position) for tp, position in batch.positions.items()})
        if cut:
            self._rewind(cut)
        if tripped is not None:
            self._park(tripped)

    def _batch_stopping(self) -> Callable[[], bool]:
        """When concurrent lanes start no more records: the consumer stops, or the deadline."""
        if self.settings.batch_deadline is None:
            return self._stop.is_set
        deadline = time.monotonic() + self.settings.batch_deadline
        return lambda: self._stop.is_set() or time.monotonic() >= deadline

    def _route(self, outcomes: Sequence[Outcome]) -> tuple[dict[TopicPartition, int], str | None]:
        """Send failures on; return where routing stopped per partition and why, if it did.

        A partition is cut at its first deferred record (never started): it and what follows
        are consumed again. Once the DLQ limit trips, no later failure of the batch is sent
        anywhere: its partition is cut at it, so it is consumed again, and routed once, after
        the consumer is resumed.
        """
        group, limit = self.settings.group, self.settings.dlq_limit
        cut = _first_deferred(outcomes)
        if cut:
            log.info("batch_cut_short", group=group, deferred=sum(o.deferred for o in outcomes))
        tripped: str | None = None
        futures = []
        for outcome in outcomes:
            record, failure = outcome.record, outcome.failure
            tp = TopicPartition(record.topic, record.partition)
            if tp in cut and record.offset >= cut[tp]:
                continue
            if failure is None:
                limit.record(False)
                continue
            if tripped is not None:
                cut[tp] = record.offset
                continue
            route = route_failure(
                self.settings.topic,
                group,
                self.settings.delays,
                record_topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                headers=record.headers,
                failure=failure,
                now=self.clock(),
            )
            if failure.counts_toward_limit:
                limit.record(route.dead_letter)
            if route.dead_letter and failure.counts_toward_limit and limit.exceeded():
                tripped = (
                    f"DLQ limit: most recent messages were dead-lettered"
                    f" (last: {failure.error_type}: {failure.message})"
                )
                cut[tp] = record.offset
                continue
            counter = metrics.DEAD_LETTERED if route.dead_letter else metrics.RETRIED
            counter.labels(group, record.topic).inc()
            if route.dead_letter:
                log.error(
                    "message_dead_lettered",
                    group=group,
                    dlq=route.topic,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error_type=failure.error_type,
                    error=failure.message,
                )
            futures.append(
                self.producer.send(
                    route.topic, key=record.key, value=record.value, headers=route.headers
                )
            )
        if futures:
            self.producer.flush()
            for future in futures:
                future.get(timeout=30)
        return cut, tripped

    def _commit(self, positions: dict[TopicPartition, int]) -> None:
        if not positions:
            return
        try:
            self.kafka.commit(
                offsets={tp: OffsetAndMetadata(offset, "", -1) for tp, offset in positions.items()}
            )
        except KafkaError as error:  # e.g. a rebalance took the partitions: redelivery is a no-op
            log.warning("offset_commit_failed", group=self.settings.group, error=str(error))

    def _rewind(self, positions: dict[TopicPartition, int]) -> None:
        assigned = self.kafka.assignment()
        for tp, offset in positions.items():
            if tp in assigned:
                self.kafka.seek(tp, offset)

    # Holding every partition: the database is down, or the DLQ limit parked the consumer.

    def _hold(self, kind: str, reason: str) -> None:
        first = self.settings.reconnect_delays[0] if kind == "database" else 0.0
        self.held = _Hold(kind, reason, time.monotonic() + first, first)
        self.kafka.pause(*self.kafka.assignment())
        self.health.report(ready=False, reason=reason)
        gauge = metrics.HELD if kind == "database" else metrics.PARKED
        gauge.labels(self.settings.group).set(1)
        if kind == "parked":
            log.error(
                "consumer_parked",
                group=self.settings.group,
                reason=reason,
                resume=f"python -m paykit.consumer resume {self.settings.group}",
            )
        else:
            log.warning("consumer_waiting_for_database", group=self.settings.group, reason=reason)

    def _park(self, reason: str) -> None:
        self._hold("parked", reason)
        assert self.held is not None
        try:
            self.parks.park(reason)
            self.held.recorded = True
        except Exception as error:  # parked in memory now; recorded once the database answers
            log.warning("park_not_recorded", group=self.settings.group, error=str(error))

    def _poll_held(self) -> None:
        held = self.held
        assert held is not None
        assigned = self.kafka.assignment()
        self.kafka.pause(*assigned)
        polled = self.kafka.poll(timeout_ms=int(self.settings.poll_timeout * 1000))
        # records fetched in the poll that assigned their partition: rewind, do not process
        self._rewind({tp: records[0].offset for tp, records in polled.items() if records})
        if time.monotonic() >= held.next_check:
            self._check_hold()

    def _check_hold(self, *, starting: bool = False) -> None:
        """Release the hold if its cause is gone; at start, take the group's recorded park."""
        held = self.held
        try:
            if held is not None and held.kind == "parked" and not held.recorded:
                self.parks.park(held.reason)  # the database missed it when the limit tripped
                held.recorded = True
            park = self.parks.current()
        except Exception as error:
            if not connection_lost(error):
                raise
            if held is None:
                self._hold("database", f"database unavailable: {error}")
            elif held.kind == "database":
                held.delay = min(max(held.delay * 2, 0.1), self.settings.reconnect_delays[1])
                held.next_check = time.monotonic() + held.delay
            else:
                held.next_check = time.monotonic() + self.settings.hold_check_interval
            return
        if park is not None and not (held is not None and held.kind == "parked"):
            self._hold("parked", park.reason)  # parked before this process started, or elsewhere
            assert self.held is not None
            self.held.recorded = True
            return
        if park is not None:
            assert held is not None
            held.next_check = time.monotonic() + self.settings.hold_check_interval
            return
        if held is not None:
            self._release(held, starting)

    def _release(self, held: _Hold, starting: bool) -> None:
        self.held = None
        if held.kind == "parked":
            self.settings.dlq_limit.reset()
        metrics.HELD.labels(self.settings.group).set(0)
        metrics.PARKED.labels(self.settings.group).set(0)
        held_partitions = set(self.scheduler.paused)
        self.kafka.resume(*[tp for tp in self.kafka.assignment() if tp not in held_partitions])
        self.health.report(ready=True)
        log.info("consumer_resumed", group=self.settings.group, after=held.kind, at_start=starting)

    def _prune_inbox(self) -> None:
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self.settings.prune_interval
        try:
            with self.pool.connection() as conn:
                removed = inbox.prune(conn, self.settings.group, self.settings.inbox_retention)
        except Exception as error:  # housekeeping: try again next interval
            log.warning("inbox_prune_failed", group=self.settings.group, error=str(error))
            return
        if removed:
            metrics.INBOX_PRUNED.labels(self.settings.group).inc(removed)
            log.info("inbox_pruned", group=self.settings.group, rows=removed)
