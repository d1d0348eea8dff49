"""One batch of outbox rows, published as one Kafka transaction.

Why a transaction: under a partial failure kafka-python fails one batch of a partition and still
delivers the batches queued behind it (after an epoch bump, or once the failed batch's retries
run out). A relay that re-sends then puts e2 before e1 in the log, and a consumer that dedupes
by event id keeps e2 first. Inside a transaction that cannot be seen: on any failure the relay
aborts, so nothing of the attempt becomes visible to the platform's read-committed consumers,
and the re-send is the first copy they read. The transactional id is stable per database, so a
second relay that somehow leads fences the first (on top of the advisory lock), and a new
leader's ``init_transactions`` closes whatever a dead one left open.

Errors fall in three kinds: a row Kafka will never accept as it is (``Refusal``: quarantine it),
the same kind of error reported for a whole transaction (``BatchRefused``: the relay narrows it
down to the row), and everything else (``PublishFailed``: retry the batch later).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import structlog
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import (
    InvalidRecordError,
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from kafka.util import ensure_valid_topic_name

from paykit.kafka_clients import create_transactional_producer
from paykit.outbox.store import OutboxRow

log = structlog.get_logger(__name__)

ProducerFactory = Callable[[str], KafkaProducer]
"""Builds a transactional producer for the given transactional id."""


def transactional_producers(bootstrap_servers: str, *, client_id: str) -> ProducerFactory:
    """The relay's producers: the platform's transactional producer settings, one client id."""

    def build(transactional_id: str) -> KafkaProducer:
        return create_transactional_producer(
            bootstrap_servers, client_id=client_id, transactional_id=transactional_id
        )

    return build


# What Kafka answers about one record or its topic, the same however often it is asked.
ROW_ERRORS: tuple[type[KafkaError], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidRecordError,
    TopicAuthorizationFailedError,
    InvalidTopicError,
)
_TOPIC_ERRORS: dict[int, str] = {
    UnknownTopicOrPartitionError.errno: "the broker has no topic {topic}",
    TopicAuthorizationFailedError.errno: "not authorised to write to topic {topic}",
    InvalidTopicError.errno: "{topic} is not a valid topic name",
}


@dataclass(frozen=True)
class Refusal:
    row: OutboxRow
    reason: str


class PublishFailed(KafkaError):  # type: ignore[misc]  # callers catching KafkaError see it
    """Nothing of the batch is visible; try it again later. ``refused`` rows were refused on
    their own before the failure and are quarantined whatever happens to the rest."""

    def __init__(self, cause: BaseException, refused: Sequence[Refusal] = ()) -> None:
        super().__init__(describe(cause))
        self.cause = cause
        self.refused = list(refused)


class BatchRefused(PublishFailed):
    """The broker refused a record of the transaction for good, without saying which."""


@dataclass
class Published:
    rows: list[OutboxRow] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)


# A commit or an abort is one round trip to the transaction coordinator, so this bounds it well
# apart from the wait for acknowledgements (``timeout``). kafka-python 3.0 drops the request when
# the coordinator dies during it (it finds the new coordinator and never sends it again), so
# this wait is the relay's whole stall when a broker dies: then the producer is rebuilt and the
# batch published again (its rows are not marked sent; consumers drop a repeat by event id).
END_TRANSACTION_TIMEOUT: Final = 10.0


class TransactionalPublisher:
    """Owns the relay's transactional producer: builds it, publishes batches, and replaces it
    after a failed one."""

    def __init__(
        self,
        new_producer: ProducerFactory,
        transactional_id: str,
        *,
        known_topics: Collection[str] | None = None,
        timeout: float = 30.0,
        end_timeout: float = END_TRANSACTION_TIMEOUT,
        heartbeat: Callable[[], None] = lambda: None,
    ) -> None:
        self.new_producer = new_producer
        self.transactional_id = transactional_id
        self.known_topics = None if known_topics is None else frozenset(known_topics)
        self.timeout = timeout
        self.end_timeout = end_timeout
        self.heartbeat = heartbeat
        self._producer: KafkaProducer | None = None
        self._confirmed_topics: set[str] = set()

    def publish(self, rows: Sequence[OutboxRow]) -> Published:
        """Publish ``rows`` in order in one transaction, skipping rows Kafka refuses on their
        own and every later row of their key; raise ``PublishFailed`` if nothing committed."""
        producer = self._ready_producer()
        unknown = self._unknown_topics({row.topic for row in rows})
        outcome = Published()
        futures: list[Any] = []
        try:
            producer.begin_transaction()
            self._send_all(producer, rows, unknown, outcome, futures)
            self._wait_for(futures)
            _end_transaction(producer, commit=True, timeout=self.end_timeout)
        except BaseException as error:
            self._abandon_transaction()  # every future is settled after it
            if not isinstance(error, KafkaError):
                raise
            refused_record = next((e for e in _errors(futures) if isinstance(e, ROW_ERRORS)), None)
            if refused_record is not None or isinstance(error, ROW_ERRORS):
                raise BatchRefused(refused_record or error, outcome.refused) from error
            self._confirmed_topics.clear()  # a topic deleted since is found by the next probe
            raise PublishFailed(error, outcome.refused) from error
        return outcome

    def close(self) -> None:
        """Close the producer; the next ``publish`` starts a new one."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            _discard(producer)

    def _send_all(
        self,
        producer: KafkaProducer,
        rows: Sequence[OutboxRow],
        unknown: dict[str, str],
        outcome: Published,
        futures: list[Any],
    ) -> None:
        """Hand ``rows`` to the producer in order; a row refused before sending holds back
        the later rows of its key, which stay unsent."""
        held: set[tuple[str, bytes]] = set()
        for row in rows:
            if row.ordering_key in held:
                continue
            reason = unknown.get(row.topic)
            if reason is None:
                try:
                    futures.append(self._send(producer, row))
                except ROW_ERRORS as error:
                    reason = describe(error)
            if reason is None:
                outcome.rows.append(row)
            else:
                outcome.refused.append(Refusal(row, reason))
                held.add(row.ordering_key)

    def _ready_producer(self) -> KafkaProducer:
        if self._producer is None:
            try:
                producer = self.new_producer(self.transactional_id)
            except KafkaError as error:
                raise PublishFailed(error) from error
            try:
                producer.init_transactions()  # fences and closes what an earlier leader left open
            except KafkaError as error:
                _discard(producer)
                raise PublishFailed(error) from error
            self._producer = producer
        return self._producer

    def _send(self, producer: KafkaProducer, row: OutboxRow) -> Any:
        return producer.send(row.topic, key=row.key, value=row.value, headers=row.headers)

    def _wait_for(self, futures: Sequence[Any]) -> None:
        """Wait for each acknowledgement in send order, staying alive while the broker is slow;
        the first failure ends the wait (the transaction is lost anyway)."""
        deadline = time.monotonic() + self.timeout
        for future in futures:
            while not future.is_done:
                if time.monotonic() > deadline:
                    raise KafkaTimeoutError(f"no acknowledgement within {self.timeout:.0f}s")
                self.heartbeat()
                try:
                    future.get(timeout=1.0)
                except KafkaTimeoutError:
                    continue
            if future.failed():
                raise future.exception

    def _unknown_topics(self, topics: set[str]) -> dict[str, str]:
        """Why each topic that cannot take records cannot, asked once per topic and producer.

        kafka-python would otherwise wait for a missing topic's metadata and time out, which
        looks the same as a broker that is down; a broker that answers "no such topic" says so.
        """
        unknown: dict[str, str] = {}
        for topic in topics:
            try:
                ensure_valid_topic_name(topic)
            except (TypeError, ValueError) as error:
                unknown[topic] = f"invalid topic name: {error}"
            else:
                if self.known_topics is not None and topic not in self.known_topics:
                    unknown[topic] = f"topic {topic} is not in the topic catalogue"
        asked = topics - self._confirmed_topics - unknown.keys()
        if not asked:
            return unknown
        assert self._producer is not None
        described = _describe_topics(self._producer, sorted(asked))
        for topic in asked:
            code = described.get(topic, UnknownTopicOrPartitionError.errno)
            if code == 0:
                self._confirmed_topics.add(topic)
            elif code in _TOPIC_ERRORS:
                unknown[topic] = _TOPIC_ERRORS[code].format(topic=topic)
            else:
                raise PublishFailed(KafkaError(f"describing topic {topic} failed: error {code}"))
        return unknown

    def _abandon_transaction(self) -> None:
        """Abort, so nothing of the attempt becomes visible, and start the next attempt with a
        new producer: after a failed batch kafka-python's sequence numbers for its partition
        can be off, and the next transaction would fail on them (out of order sequence). A
        producer that cannot abort (a fatal error, a bumped epoch, no broker) is closed all
        the same; the next one's ``init_transactions`` aborts what it left open."""
        if self._producer is None:
            return
        try:
            _end_transaction(self._producer, commit=False, timeout=self.end_timeout)
        except KafkaError as error:
            log.info("outbox_transaction_not_aborted", reason=describe(error))
        finally:
            self.close()


def _errors(futures: Sequence[Any]) -> list[BaseException]:
    return [future.exception for future in futures if future.is_done and future.failed()]


def describe(error: BaseException) -> str:
    """``Name: detail``, without kafka-python's ``[Error 10] Name:`` prefix or a bare None."""
    name, text = type(error).__name__, str(error)
    detail = text.split(f"{name}: ", 1)[1] if f"{name}: " in text else text
    if detail in ("", "None"):
        detail = getattr(error, "description", "") or "no detail"
    return f"{name}: {detail}"


def _describe_topics(producer: KafkaProducer, topics: list[str]) -> dict[str, int]:
    """Error code per topic from the broker's metadata (0: the topic exists)."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=producer.config["bootstrap_servers"],
            client_id=f"{producer.config['client_id']}-topics",
            request_timeout_ms=5_000,
            bootstrap_timeout_ms=5_000,
        )
    except Exception as error:  # NoBrokersAvailable, timeouts: the broker did not answer
        raise PublishFailed(error) from error
    try:
        return {entry["name"]: int(entry["error_code"]) for entry in admin.describe_topics(topics)}
    except Exception as error:
        raise PublishFailed(error) from error
    finally:
        admin.close()


def _end_transaction(producer: KafkaProducer, *, commit: bool, timeout: float) -> None:
    """``commit_transaction``/``abort_transaction`` with a bound: kafka-python's own wait for
    the coordinator's answer has none, so a broker that went away would hang the relay."""
    manager = producer._transaction_manager
    result = manager.begin_commit() if commit else manager.begin_abort()
    producer._sender.wakeup()
    if not result.wait(timeout_ms=timeout * 1000):
        raise KafkaTimeoutError(f"transaction not {'committed' if commit else 'aborted'}")


def _discard(producer: KafkaProducer) -> None:
    """Close without waiting for batches that will never complete: ``close`` flushes first and
    gives up, leaving the I/O thread running, when a batch is stuck (after an epoch bump)."""
    producer._sender.force_close()
    try:
        producer.close(timeout=5)
    except KafkaError as error:
        log.warning("outbox_producer_close_failed", error=str(error))
