"""The pipeline's events read back from Kafka, from a rate's start on, without a consumer group.

A plain consumer with no group (partitions assigned, positions sought by timestamp) commits
nothing and joins nothing, so no platform group is rebalanced or moved by a benchmark reading
the same topics. ``paykit.testing.read_topic`` reads a topic from its beginning, which grows
with every run; seeking by time reads only the rate's own stretch of each topic.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from bench.driver import CreatedPayment
from bench.pipeline import MilestoneEvent, milestone_of, timelines
from payevents.codec import HEADER_EVENT_TYPE, decode
from payevents.topics import LEDGER_EVENTS, PAYMENT_EVENTS, SETTLEMENT_EVENTS, WEBHOOK_EVENTS
from paykit.testing import wait_until

PIPELINE_TOPICS = (
    PAYMENT_EVENTS.name,
    WEBHOOK_EVENTS.name,
    LEDGER_EVENTS.name,
    SETTLEMENT_EVENTS.name,
)
_TYPES = {"payment.created", "payment.processing", "payment.succeeded", "payment.failed"} | {
    "psp.payment_status_received",
    "ledger.transaction_posted",
    "settlement.item_created",
}


def milestone_from_record(record: Any) -> MilestoneEvent | None:
    """The milestone a Kafka record announces, or None for every other event.

    The type header is looked at first, so the body of an event no stage needs is never parsed.
    """
    headers = dict(record.headers or ())
    raw_type = headers.get(HEADER_EVENT_TYPE)
    if raw_type is None or raw_type.decode("utf-8", "replace") not in _TYPES:
        return None
    envelope = decode(record.value)
    milestone = milestone_of(envelope.type, envelope.data)
    payment_id = envelope.data.get("payment_id")
    if milestone is None or not isinstance(payment_id, str):
        return None
    return MilestoneEvent(
        payment_id=payment_id,
        milestone=milestone,
        committed_at=envelope.occurred_at.timestamp(),
        produced_at=record.timestamp / 1000,
    )


class EventLog:
    """The pipeline topics from ``since`` (epoch seconds) on; each ``read`` gives what is new."""

    def __init__(
        self, bootstrap_servers: str, since: float, topics: Iterable[str] = PIPELINE_TOPICS
    ) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(self._consumer.partitions_for_topic(topic) or ())
        ]
        self._consumer.assign(partitions)
        found = self._consumer.offsets_for_times({tp: int(since * 1000) for tp in partitions})
        ends = self._consumer.end_offsets(partitions)
        for tp in partitions:
            at = found.get(tp)
            self._consumer.seek(tp, at.offset if at is not None else ends[tp])

    def read(self, timeout: float = 0.2) -> list[MilestoneEvent]:
        events = []
        for batch in self._consumer.poll(timeout_ms=int(timeout * 1000)).values():
            for record in batch:
                event = milestone_from_record(record)
                if event is not None:
                    events.append(event)
        return events

    def close(self) -> None:
        self._consumer.close(autocommit=False)

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def collect_milestones(
    log: EventLog, created: Collection[CreatedPayment], timeout: float
) -> tuple[list[MilestoneEvent], float]:
    """Read until every created payment reached its last stage (or failed), or ``timeout``.

    Returns the events and the seconds it waited. Stragglers still short of a stage then are
    left missing, to be counted as such.
    """
    events: list[MilestoneEvent] = []
    began = time.monotonic()

    def all_done() -> bool:
        events.extend(log.read())
        return all(line.done for line in timelines(created, events).values())

    wait_until(all_done, timeout=timeout, interval=0.05)
    return events, time.monotonic() - began
